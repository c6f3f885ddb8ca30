# An eSCN-style O(3) interaction network: eSCN's own SO(2) convolution in the edge frames.
# `so2_conv` rotates `h[src]` into the frame of each edge, mixes orders |m| <= mmax, rotates
# back (docs/escn.md, "eSCN's own convolution").
model ESCN_SO2(
    species: int = 4,
    scalars: int = 16,
    channels: int = 8,
    mmax: int = 1,
    depth: int = 2,
    cutoff: float = 5.0,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff))
    input z: index(species) over nodes  # type indices 0..species-1
    input pos: point(3) over nodes

    s = embed(z, scalars x 0e)
    r = pos[dst] - pos[src]
    w = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 x scalar over edges
    m = so2_conv(s[src], r, w, out=scalars x 0e + channels x 1o + channels x 2e, mmax=mmax)
    h = gate(sum(m, over=edges, into=nodes))  # scalars >= 2 channels: every copy gated
    repeat depth {
        m = so2_conv(h[src], r, w, out=scalars x 0e + channels x 1o + channels x 2e, mmax=mmax)
        h = gate(
            linear(h, scalars x 0e + channels x 1o + channels x 2e) + sum(m, over=edges, into=nodes),
        )
    }
    output energy: scalar = sum(linear(h, 0e), over=nodes)
}

# An eSCN-style interaction network on high-degree irreps (SO(2) convolutions).
model ESCN(
    species: int = 4,
    channels: int = 16,
    lmax: int = 4,
    hidden: int = 32,
    depth: int = 2,
    cutoff: float = 5.0,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff))
    input z: index(species) over nodes  # type indices 0..species-1, as ASE / PyG give them
    input pos: point(3) over nodes

    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax=lmax)  # 0e + 1o + 2e + ... over edges (lmax >= 4)
    w = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 x scalar over edges
    # The embedding: scalars spread to every degree by one convolution.
    m = tp_conv(
        embed(z, channels x 0e),
        sh,
        w,
        out=channels x 0e + channels x 1o + channels x 2e + channels x 3o + channels x 4e,
        hidden=hidden,
    )
    h = gate(m)
    # Interaction blocks: normalise, convolve (cg or so2, the compiler picks), gate, add.
    repeat depth {
        m = tp_conv(
            layer_norm(h),
            sh,
            w,
            out=channels x 0e + channels x 1o + channels x 2e + channels x 3o + channels x 4e,
            hidden=hidden,
        )
        h = h + gate(m)
    }
    output energy: scalar = sum(
        mlp(linear(layer_norm(h), channels x 0e), [channels, 1], act=silu),
        over=nodes,
    )
}

# A NequIP-style O(3) interaction network on irreps (tensor-product convolution).
# `periodic=true`: crystals in a periodic cell (runtime inputs `cell` and `pbc`).
model NequIP(
    species: int = 4,
    channels: int = 32,
    lmax: int = 2,
    depth: int = 3,
    cutoff: float = 5.0,
    periodic: bool = false,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff), cell=periodic)
    input z: index(species) over nodes  # type indices 0..species-1, as ASE / PyG give them
    input pos: point(3) over nodes

    h = embed(z, channels x 0e)
    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax=lmax)  # 0e + 1o + 2e over edges
    w = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 x scalar over edges
    repeat depth {
        h = gate(tp_conv(h, sh, w, out=channels x 0e + channels x 1o + channels x 2e))
    }
    output energy: scalar = sum(linear(h, 0e), over=nodes)
}

# MACE (Batatia et al., NeurIPS 2022): higher-order equivariant messages. Each interaction
# builds a one-particle basis A from the neighbours (a tensor-product convolution), takes its
# symmetric contraction with itself up to `correlation` factors (the ACE product basis, weights
# per species), and updates the features with a species-dependent residual; every layer reads
# out an energy and the energies add up. MACE's default width is `channels=128`; 32 suits a CPU.
# The one-particle basis holds irreps up to 3 (MACE's max_ell, so `max_ell` >= 3); hidden features
# are 0e + 1o, the last layer's scalars only. `interactions` >= 2 (the first and the last are
# written out). `periodic=true`: runtime `cell`, `pbc`. `message_scale`: MACE's 1 / neighbours.
model MACE(
    species: int = 4,
    channels: int = 32,
    max_ell: int = 3,
    correlation: int = 3,
    interactions: int = 2,
    cutoff: float = 5.0,
    message_scale: float = 0.1,
    periodic: bool = false,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff), cell=periodic)
    input z: index(species) over nodes  # type indices 0..species-1, as ASE / PyG give them
    input pos: point(3) over nodes

    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax=max_ell)  # 0e + 1o + 2e + 3o over edges
    w = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 Bessel functions, polynomial envelope
    kind = embed(z, species x 0e)  # the species as features, for the residual maps
    e = embed(z, 0e)  # each species' reference energy

    # Interaction 1: the features are scalars yet, so there is no residual.
    h = embed(z, channels x 0e)
    m = tp_conv(h, sh, w, out=channels x 0e + channels x 1o + channels x 2e + channels x 3o)
    b = symmetric_contraction(
        message_scale * m,
        z,
        out=channels x 0e + channels x 1o,
        correlation=correlation,
    )
    h = linear(b, channels x 0e + channels x 1o)
    e = e + linear(h, 0e)

    # Interactions 2 .. n-1: the residual is a species-dependent linear map of h.
    repeat interactions - 2 {
        residual = tensor_product(h, kind, out=channels x 0e + channels x 1o)
        u = linear(h, channels x 0e + channels x 1o)
        m = tp_conv(u, sh, w, out=channels x 0e + channels x 1o + channels x 2e + channels x 3o)
        b = symmetric_contraction(
            message_scale * m,
            z,
            out=channels x 0e + channels x 1o,
            correlation=correlation,
        )
        h = linear(b, channels x 0e + channels x 1o) + residual
        e = e + linear(h, 0e)
    }

    # The last interaction keeps scalars only and reads out through a small MLP.
    residual = tensor_product(h, kind, out=channels x 0e)
    u = linear(h, channels x 0e + channels x 1o)
    m = tp_conv(u, sh, w, out=channels x 0e + channels x 1o + channels x 2e + channels x 3o)
    b = symmetric_contraction(message_scale * m, z, out=channels x 0e, correlation=correlation)
    h = linear(b, channels x 0e) + residual
    e = e + mlp(h, [16, 1], act=silu)
    output energy: scalar = sum(e, over=nodes)
}

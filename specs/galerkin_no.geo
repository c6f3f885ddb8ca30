# Galerkin Transformer neural operator (Cao, "Choose a Transformer: Fourier or Galerkin",
# NeurIPS 2021, arXiv:2105.14995) on a periodic 2-D grid, shift-equivariant: T(2).
# Lift, `depth` encoder layers (Galerkin attention with an output projection, then a GELU
# feed-forward, each with a residual; no layer norm on the residual stream: the paper's
# Galerkin layer normalises only K and V), pointwise projection. The paper's model also
# appends the grid coordinates to its input and decodes with spectral convolutions; without
# the coordinates every layer commutes with the cyclic shifts.
model GalerkinNO(channels: int = 1, width: int = 32, heads: int = 4, depth: int = 4, out: int = 1) {
    symmetry T(2)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z = linear(a, width x scalar)
    repeat depth {
        h = galerkin_attention(
            linear(z, width x scalar),
            linear(z, width x scalar),
            linear(z, width x scalar),
            heads=heads,
        )
        z = z + linear(h, width x scalar)
        z = z + linear(act(linear(z, 2 * width x scalar), gelu), width x scalar)
    }
    output u: out x scalar over torus = linear(
        act(linear(z, 2 * width x scalar), gelu),
        out x scalar,
    )
}

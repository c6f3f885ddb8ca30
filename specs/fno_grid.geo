# FNO as published (Li et al., 2021; neuraloperator 2.0.0's FNO defaults): grid coordinates as input channels, T(2) declared broken.
# neuraloperator's `FNO(n_modes=(2 modes, 2 modes - 2), hidden_channels=width, in_channels=channels,
# out_channels=out, n_layers=depth)` with its default `positional_embedding="grid"` (coordinates
# i/n in [0, 1) appended to the input), lifting and projection channel MLPs through 2 x width, a
# bias-free linear skip beside each Fourier layer, a channel MLP through `hidden` = width / 2
# channels with a soft-gating skip (a per-channel scale there; here a bias-free linear, whose
# diagonal it is), gelu after both sums but in the last layer, no norms. The coordinates break
# the shifts, so the model is typed and checked under what remains (docs/language.md).
block channel_mlp(
    x: width x scalar over torus,
    z: width x scalar over torus,
    width: int,
    hidden: int,
) -> width x scalar over torus {
    y = linear(act(linear(x, hidden x scalar), gelu), width x scalar)
    return y + linear(z, width x scalar, bias=false)  # soft-gating: neuraloperator's diagonal
}

model FNOGrid(
    channels: int = 1,
    width: int = 32,
    hidden: int = 16,
    modes: int = 12,
    depth: int = 4,
    out: int = 1,
) {
    symmetry T(2)
    breaks T(2) by grid
    domain torus(64, 64)
    input a: channels x scalar over torus
    grid = grid_coords(a)
    z = linear(act(linear(concat(a, grid), 2 * width x scalar), gelu), width x scalar)
    repeat depth - 1 {
        x = act(spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar), gelu)
        z = act(channel_mlp(x, z, width, hidden), gelu)
    }
    x = spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar)
    z = channel_mlp(x, z, width, hidden)
    output u: out x scalar over torus = linear(
        act(linear(z, 2 * width x scalar), gelu),
        out x scalar,
    )
}

# Fourier Neural Operator (Li et al., 2021) on a periodic 2-D grid, shift-equivariant: T(2).
# Without the grid coordinates the original feeds in, every layer commutes with cyclic shifts.
model FNO(channels: int = 1, width: int = 32, modes: int = 12, depth: int = 4, out: int = 1) {
    symmetry T(2)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z = linear(a, width x scalar)
    repeat depth - 1 {
        z = act(spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar), gelu)
    }
    z = spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar)  # no act last
    output u: out x scalar over torus = linear(act(linear(z, 128 x scalar), gelu), out x scalar)
}

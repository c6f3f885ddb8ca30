# FNO with its nonlinearity in Fourier space (McCabe et al., 2023): depthwise filters and modReLU on the kept modes, typed on the spectrum; T(2).
# M. McCabe, P. Harrington, S. Subramanian, J. Brown, "Towards Stability of Autoregressive Neural
# Operators", arXiv:2306.10619 (2023), count nonlinearities applied in Fourier space among their
# spectral-layer variants; one acting on the kept modes only creates no frequency past them.
# Each layer takes the kept coefficients (`fft`: complex, over `fourier<modes>`),
# filters every channel on its own (`mode_filter`: one complex weight per channel and mode),
# applies modReLU (`mod_act`: c relu(|c| + b) / |c|, a learned bias per channel) and goes back
# to the grid (`ifft`). A shift multiplies each mode by a phase; each of these maps commutes
# with it, while a function of the real and imaginary parts one by one would not (GEO337):
# exactly equivariant to the cyclic shifts of the grid. docs/spectral.md, "Nonlinearities in
# Fourier space".
model FNOModAct(channels: int = 1, width: int = 32, modes: int = 12, depth: int = 4, out: int = 1) {
    symmetry T(2)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z = linear(a, width x scalar)
    repeat depth - 1 {
        k = ifft(mod_act(mode_filter(fft(z, modes=modes)), relu))
        z = act(k + linear(z, width x scalar), gelu)
    }
    k = ifft(mode_filter(fft(z, modes=modes)))
    z = k + linear(z, width x scalar)  # no act after the last layer, as in the FNO
    output u: out x scalar over torus = linear(act(linear(z, 128 x scalar), gelu), out x scalar)
}

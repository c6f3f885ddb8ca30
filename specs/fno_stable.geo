# Stable FNO for autoregressive rollouts (McCabe et al., 2023): depthwise spectral filters, an isotropic cut-off and bounded filters; T(2).
# M. McCabe, P. Harrington, S. Subramanian, J. Brown, "Towards Stability of Autoregressive Neural
# Operators", arXiv:2306.10619 (2023). Each Fourier layer filters every channel on its own
# (`mixing=depthwise`: one complex weight per channel and mode; the channels mix in the pointwise
# `linear` beside it), keeps the modes in the disc |k| < modes (`cutoff=disc`: isotropic, no
# preferred grid direction) and bounds each filter, bound * tanh(|w|) w / |w| (`bound`), so that
# no layer amplifies a frequency by more than `bound`. Every layer is a Fourier multiplier plus a
# pointwise map: exactly equivariant to the cyclic shifts of the grid. docs/spectral.md says which
# of the paper's ingredients are built.
model FNOStable(
    channels: int = 1,
    width: int = 32,
    modes: int = 12,
    depth: int = 4,
    out: int = 1,
    bound: float = 1.0,
) {
    symmetry T(2)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z = linear(a, width x scalar)
    repeat depth - 1 {
        k = spectral_conv(
            z,
            width x scalar,
            modes=modes,
            mixing=depthwise,
            cutoff=disc,
            bound=bound,
        )
        z = act(k + linear(z, width x scalar), gelu)
    }
    k = spectral_conv(z, width x scalar, modes=modes, mixing=depthwise, cutoff=disc, bound=bound)
    z = k + linear(z, width x scalar)  # no act after the last layer, as in the FNO
    output u: out x scalar over torus = linear(act(linear(z, 128 x scalar), gelu), out x scalar)
}

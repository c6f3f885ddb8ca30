# Two-level V-cycle (a U-Net on a periodic 2-D grid): local convolutions, learned restriction and prolongation, skip connections; equivariant under the shifts by multiples of 4, T(2, step=4).
# Each level is a circular 3x3 convolution with gelu; `restrict` (a stride-2 convolution) goes
# down to 32x32 and 16x16, `prolong` (a stride-2 transposed convolution) comes back up and adds
# the level's skip. A restriction by 2 commutes only with the shifts by multiples of 2, two with
# those by multiples of 4: that is the declared and checked group (docs/operators.md).
model VCycle(channels: int = 1, width: int = 16, kernel: int = 3, out: int = 1) {
    symmetry T(2, step=4)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z0 = act(conv(linear(a, width x scalar), width x scalar, kernel=kernel), gelu)
    z1 = act(conv(restrict(z0, width x scalar), width x scalar, kernel=kernel), gelu)
    z2 = act(conv(restrict(z1, width x scalar), width x scalar, kernel=kernel), gelu)
    u1 = act(conv(prolong(z2, width x scalar) + z1, width x scalar, kernel=kernel), gelu)
    u0 = act(conv(prolong(u1, width x scalar) + z0, width x scalar, kernel=kernel), gelu)
    output u: out x scalar over torus = linear(u0, out x scalar)
}

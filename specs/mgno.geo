# MgNO (He, Liu, Xu 2024): neural-operator layers whose linear part is a four-level multigrid V-cycle of learned convolutions (smoothing, residual restriction, prolongation and correction) on a non-periodic grid with zero boundary values, for Darcy flow; symmetry trivial.
# One layer is z -> gelu(V(z) + W z + b): V approximately solves "A u = f" for f = z by the
# V-cycle of MgNet / MgNO, every operator a learned convolution without bias (so V is linear):
# on each level u = S f, then `smooth - 1` more steps u += S (f - A u); the residual f - A u is
# restricted (a learned 2x2 stride-2 convolution, the cell-centred agglomeration) to the next
# level, whose u starts from S f there; on the way up u += P u_coarse (a 2x2 transposed
# convolution), then `post` post-smoothing steps. A and S are 3x3 convolutions, zero padded:
# the boundary values are zero, as Darcy's are. Four levels (n, n/2, n/4, n/8). The first layer
# reads the coefficient itself (`channels` channels of f), as MgNO's; a pointwise linear map
# gives the output. A non-periodic grid carries no translation group (`geoc check` says why).
# It runs on any grid whose sizes 8 divides (GEO657 otherwise): examples/darcy_mgno.py trains
# it at 32x32 on Darcy flow against an FNO of similar size (docs/mgno.md).
block vcycle(
    f0: c x scalar over grid,
    c: int,
    width: int,
    kernel: int,
    smooth: int,
    post: int,
) -> width x scalar over grid {
    u0 = conv(f0, width x scalar, kernel=kernel, bias=false)
    repeat smooth - 1 {
        r0 = f0 - conv(u0, c x scalar, kernel=kernel, bias=false)
        u0 = u0 + conv(r0, width x scalar, kernel=kernel, bias=false)
    }
    f1 = restrict(f0 - conv(u0, c x scalar, kernel=kernel, bias=false), c x scalar, bias=false)
    u1 = conv(f1, width x scalar, kernel=kernel, bias=false)
    repeat smooth - 1 {
        r1 = f1 - conv(u1, c x scalar, kernel=kernel, bias=false)
        u1 = u1 + conv(r1, width x scalar, kernel=kernel, bias=false)
    }
    f2 = restrict(f1 - conv(u1, c x scalar, kernel=kernel, bias=false), c x scalar, bias=false)
    u2 = conv(f2, width x scalar, kernel=kernel, bias=false)
    repeat smooth - 1 {
        r2 = f2 - conv(u2, c x scalar, kernel=kernel, bias=false)
        u2 = u2 + conv(r2, width x scalar, kernel=kernel, bias=false)
    }
    f3 = restrict(f2 - conv(u2, c x scalar, kernel=kernel, bias=false), c x scalar, bias=false)
    u3 = conv(f3, width x scalar, kernel=kernel, bias=false)
    repeat smooth - 1 {
        r3 = f3 - conv(u3, c x scalar, kernel=kernel, bias=false)
        u3 = u3 + conv(r3, width x scalar, kernel=kernel, bias=false)
    }
    u2 = u2 + prolong(u3, width x scalar, bias=false)
    repeat post {
        r2 = f2 - conv(u2, c x scalar, kernel=kernel, bias=false)
        u2 = u2 + conv(r2, width x scalar, kernel=kernel, bias=false)
    }
    u1 = u1 + prolong(u2, width x scalar, bias=false)
    repeat post {
        r1 = f1 - conv(u1, c x scalar, kernel=kernel, bias=false)
        u1 = u1 + conv(r1, width x scalar, kernel=kernel, bias=false)
    }
    u0 = u0 + prolong(u1, width x scalar, bias=false)
    repeat post {
        r0 = f0 - conv(u0, c x scalar, kernel=kernel, bias=false)
        u0 = u0 + conv(r0, width x scalar, kernel=kernel, bias=false)
    }
    return u0
}

model MgNO(
    channels: int = 1,
    width: int = 24,
    kernel: int = 3,
    depth: int = 4,
    smooth: int = 1,
    post: int = 1,
    out: int = 1,
) {
    symmetry trivial
    domain grid(64, 64, boundary=zero)
    input a: channels x scalar over grid
    z = act(vcycle(a, channels, width, kernel, smooth, post) + linear(a, width x scalar), gelu)
    repeat depth - 1 {
        z = act(vcycle(z, width, width, kernel, smooth, post) + linear(z, width x scalar), gelu)
    }
    output u: out x scalar over grid = linear(z, out x scalar, bias=false)
}

# Canonicalised image CNN (Kaba et al., 2023): a C(4)-equivariant net picks an orientation, the image is turned back by it, a plain CNN runs on the result; exactly invariant under the 90° rotations of the torus, C(4).
# The canonicaliser is a lifting convolution (Cohen & Welling 2016) pooled over the grid: one
# score per rotation, `regular`, moving with the input. `canonicalise` turns the image by the
# inverse of the argmax (ties: the lexicographically largest turned image), so the result,
# over `torus_canon`, is the same image for every rotation of the input. The backbone is an
# ordinary circular CNN (free 3x3 kernels, no weight tying) with a mean over the grid.
model CanonImage(
    channels: int = 1,
    score: int = 4,
    width: int = 16,
    depth: int = 2,
    kernel: int = 3,
    hidden: int = 64,
    classes: int = 10,
) {
    symmetry C(4)
    domain torus(28, 28)
    input x: channels x scalar over torus

    # Canonicaliser: equivariant scores, one per rotation.
    h = act(lift_conv(x, score x regular, kernel=kernel), relu)
    s = linear(mean(h, over=torus), regular)
    c = canonicalise(x, s)

    # Plain CNN on the canonical image.
    z = act(conv(c, width x scalar, kernel=kernel), relu)
    repeat depth {
        z = act(conv(z, width x scalar, kernel=kernel), relu)
    }
    f = mean(z, over=torus_canon)
    output logits: classes x scalar = mlp(f, [hidden, classes], act=relu)
}

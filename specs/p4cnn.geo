# P4CNN: group-equivariant CNN for the wallpaper group p4 (shifts and 90° rotations) on images.
# Cohen & Welling, "Group Equivariant Convolutional Networks", ICML 2016: a lifting convolution,
# group convolutions over (rotation, position), pooling over the rotations, then a global mean
# over the periodic grid: the logits are invariant under every shift and 90° rotation.
model P4CNN(
    channels: int = 1,
    width: int = 8,
    depth: int = 2,
    kernel: int = 3,
    hidden: int = 64,
    classes: int = 10,
) {
    symmetry T(2) x C(4)
    domain torus(28, 28)
    input x: channels x scalar over torus
    z = act(lift_conv(x, width x regular, kernel=kernel), relu)
    repeat depth {
        z = act(group_conv(z, width x regular, kernel=kernel), relu)
    }
    f = mean(group_pool(z, reduce=max), over=torus)  # invariant per point, then over the grid
    output logits: classes x scalar = mlp(f, [hidden, classes], act=relu)
}

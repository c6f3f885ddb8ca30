# Neural sheaf diffusion (Bodnar et al., 2022): orthogonal restriction maps on 2-d stalks
model SheafDiffusion(
    features: int = 8,
    d: int = 2,
    width: int = 4,
    classes: int = 3,
    depth: int = 2,
) {
    symmetry S(nodes)
    domain graph(nodes)
    input x: features x scalar over nodes
    h = linear(x, d * width x scalar)  # d stalk coordinates of `width` channels per node
    repeat depth {
        F = restriction_maps(h[dst], h[src], d=d, kind=orthogonal)  # Φ(x_v ‖ x_u) per edge
        h = h - act(sheaf_diffusion(h, F, d=d, kind=orthogonal), elu)  # X - σ(Δ (I ⊗ W1) X W2)
    }
    output z: classes x scalar over nodes = linear(act(h, elu), classes x scalar)
}

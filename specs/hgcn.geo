# Hyperbolic graph convolution in the Lorentz model (Chami et al., 2019; Chen et al., 2022)
model HGCN(features: int = 16, dim: int = 16, depth: int = 2, k: float = 1.0) {
    symmetry S(nodes)
    domain graph(nodes)
    input x: features x scalar over nodes
    h = expmap0(linear(x, dim x scalar), manifold=lorentz(dim, k=k))
    repeat depth {
        m = lorentz_linear(h, dim, act=relu)  # transform every node
        a = lorentz_centroid(m[src], over=edges, into=nodes)  # aggregate its neighbours
        h = lorentz_centroid(concat(m, a))  # and itself: the midpoint
    }
    output z: lorentz(dim, k=k) over nodes = h
}

# Euclidean graph convolution, the baseline of the hyperbolic one (Kipf & Welling, 2017)
model GCN(features: int = 16, dim: int = 16, depth: int = 2) {
    symmetry S(nodes)
    domain graph(nodes)
    input x: features x scalar over nodes
    h = linear(x, dim x scalar)
    repeat depth {
        m = linear(act(h, relu), dim x scalar)  # transform every node
        a = mean(m[src], over=edges, into=nodes)  # aggregate its neighbours
        h = 0.5 * (m + a)  # and itself
    }
    output z: dim x scalar over nodes = h
}

# A hyperbolic graph network in the Lorentz model, for docs/tutorials/hyperbolic_graph.md:
# HGCN's three steps per layer (Chami et al., NeurIPS 2019) with the fully hyperbolic linear
# layer of Chen et al. (ACL 2022), then a last layer down to a `dim`-dimensional hyperbolic
# space where the tree is embedded. Permutations of the nodes are the only symmetry.
model TreeHGCN(features: int = 16, hidden: int = 8, dim: int = 2, depth: int = 2, k: float = 1.0) {
    symmetry S(nodes)
    domain graph(nodes)
    input x: features x scalar over nodes
    # Euclidean features onto the hyperboloid through the tangent space at its origin
    h = expmap0(linear(x, hidden x scalar), manifold=lorentz(hidden, k=k))
    repeat depth {
        m = lorentz_linear(h, hidden, act=relu)  # feature transform, on the manifold
        a = lorentz_centroid(m[src], over=edges, into=nodes)  # aggregate the neighbours
        h = lorentz_centroid(concat(m, a))  # the midpoint of a node and its neighbourhood
    }
    output z: lorentz(dim, k=k) over nodes = lorentz_linear(h, dim)
}

# Raw coordinates into an MLP: neither rotation- nor translation-invariant.
model MlpOnPoints(hidden: int = 32) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: hidden x scalar over nodes = mlp(x, [hidden, hidden])
}

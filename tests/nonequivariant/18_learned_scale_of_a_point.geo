# A learned per-node gate on the position itself (not on a displacement).
model LearnedScaleOfAPoint(hidden: int = 16) {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input h: hidden x scalar over nodes
    input x: point(3) over nodes
    output y: point(3) over nodes = mlp(h, [hidden, 1]) * x
}

# relu acts per coordinate, and rotations mix coordinates.
model ReluOnVectors() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input v: 2 x vector over nodes
    output y: 2 x vector over nodes = act(v, relu)
}

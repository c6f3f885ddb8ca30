# A linear map of positions is not translation-equivariant (it also maps the translation).
model LinearOnPoints() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output y: 4 x vector over nodes = linear(x, 4 x vector)
}

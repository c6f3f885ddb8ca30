# silu is not odd: it does not commute with the sign flip of a reflection.
model SiluOnPseudoscalars() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    input a: 2 x pseudoscalar over nodes
    output y: 2 x pseudoscalar over nodes = act(a, silu)
}

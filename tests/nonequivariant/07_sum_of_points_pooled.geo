# A sum of n points moves by n translations: it is not a point (the mean is).
model SumOfPoints() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    output centre: point(3) = sum(x, over=nodes)
}

# p + q moves by twice the translation.
model SumOfTwoPoints() {
    symmetry E(3) x S(nodes)
    domain   pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    midpoint_times_two = x[src] + x[dst]
    output y: point(3) over nodes = mean(midpoint_times_two, over=edges, into=nodes)
}

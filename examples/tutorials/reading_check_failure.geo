# A small E(3)-equivariant point-cloud model, for docs/tutorials/reading_check_failure.md:
# messages from distances, positions moved along their differences, an energy and a force.
model Cloud(hidden: int = 16) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    r = x[dst] - x[src]  # vector over edges
    d = norm(r)  # the edge length: invariant
    m = mlp(d, [hidden, hidden], act=silu, last_act=true)
    force = sum(r * mlp(m, [hidden, 1], act=silu), over=edges, into=nodes)
    output energy: scalar = sum(mlp(sum(m, over=edges, into=nodes), [hidden, 1]), over=nodes)
    output f: vector over nodes = force
}

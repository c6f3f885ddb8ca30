# The model of reading_check_failure.geo plus a pull towards the origin, which reads absolute
# positions: translations are declared broken by `at`, so geoc proves and checks O(3) x S(nodes)
# and reports how far the outputs move under the translations given up.
model Anchored(hidden: int = 16) {
    symmetry E(3) x S(nodes)
    breaks T(3) by at  # `at` is x read from the origin
    domain pointcloud(nodes, dim=3, edges=full)
    input x: point(3) over nodes
    at = x
    r = x[dst] - x[src]
    m = mlp(norm(r), [hidden, hidden], act=silu, last_act=true)
    force = sum(r * mlp(m, [hidden, 1], act=silu), over=edges, into=nodes)
    pull = at * mlp(norm(at), [hidden, 1], act=silu)  # a vector from the origin, scaled
    output f: vector over nodes = force + pull
}

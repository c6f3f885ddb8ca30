# Points and query centres on two axes: knn messages on the points, then each centre reads its k nearest points.
model CrossSet(features: int = 4, hidden: int = 16, k: int = 4) {
    symmetry E(3) x S(points) x S(centres)
    domain pointcloud(points, dim=3, edges=knn(k))
    domain pointcloud(centres, dim=3)
    domain edges(near, src=points, dst=centres, rule=knn(k))

    input f: features x scalar over points
    input x: point(3) over points
    input c: point(3) over centres

    # one invariant message-passing layer on the points (their own knn edges)
    e = mlp(concat(f[dst], f[src], sqnorm(x[dst] - x[src])), [hidden, hidden], act=silu)
    h = linear(f, hidden x scalar) + mean(e, over=edges, into=points)

    # each centre gathers its k nearest points: relative positions, invariant messages, max
    r = x[src(near)] - c[dst(near)]
    m = mlp(concat(h[src(near)], sqnorm(r)), [hidden, hidden], act=silu, last_act=true)
    g = max(m, over=near, into=centres)

    output y: hidden x scalar over centres = g
    output pooled: scalar = sum(mlp(g, [hidden, 1], act=silu), over=centres)
}

# PointNet++ (Qi et al. 2017): farthest-point sampling, ball grouping with relative coordinates, shared MLP and max per group (single- and multi-scale), global max with a classification head, and feature propagation back to the points for segmentation.
model PointNet2(
    features: int = 3,
    classes: int = 10,
    parts: int = 4,
    centres1: int = 4,
    centres2: int = 2,
    r1: float = 0.8,
    r2: float = 1.2,
    r3: float = 2.4,
    k: int = 8,
    width: int = 16,
) {
    symmetry T(3) x S(points)
    domain pointcloud(points, dim=3)
    domain sample(level1, from=points, rule=fps(centres1))
    domain sample(level2, from=level1, rule=fps(centres2))
    domain edges(ball1, src=points, dst=level1, rule=ball(r1, k))
    domain edges(ball2, src=level1, dst=level2, rule=ball(r2, k))
    domain edges(ball3, src=level1, dst=level2, rule=ball(r3, k))
    domain edges(up2, src=level2, dst=level1, rule=knn(3))
    domain edges(up1, src=level1, dst=points, rule=knn(3))
    input x: point(3) over points
    input f: features x scalar over points

    # set abstraction, single scale: ball groups on the sampled centres, each member's
    # features and its position relative to the centre, a shared MLP, max per centre
    c1 = x[from(level1)]
    g1 = concat(f[src(ball1)], x[src(ball1)] - c1[dst(ball1)])
    h1 = max(mlp(g1, [width, width, 2 * width], act=relu, last_act=true), over=ball1, into=level1)

    # set abstraction, multi-scale grouping: two radii around the same centres, concatenated
    c2 = x[from(level1)][from(level2)]
    g2 = concat(h1[src(ball2)], c1[src(ball2)] - c2[dst(ball2)])
    g3 = concat(h1[src(ball3)], c1[src(ball3)] - c2[dst(ball3)])
    s2 = max(mlp(g2, [2 * width, 2 * width], act=relu, last_act=true), over=ball2, into=level2)
    s3 = max(mlp(g3, [2 * width, 2 * width], act=relu, last_act=true), over=ball3, into=level2)
    h2 = concat(s2, s3)

    # classification: a shared MLP on the last centres, global max, fully connected head
    pooled = max(mlp(h2, [4 * width], act=relu, last_act=true), over=level2)
    output logits: classes x scalar = mlp(pooled, [2 * width, classes], act=relu)

    # segmentation: feature propagation by inverse-distance interpolation from the 3 nearest
    # coarser centres, skip features concatenated, a shared MLP per level
    p2 = concat(interpolate(concat(h2, pooled), over=up2, into=level1), h1)
    u1 = mlp(p2, [2 * width, 2 * width], act=relu, last_act=true)
    p1 = concat(interpolate(u1, over=up1, into=points), f)
    u0 = mlp(p1, [width, width], act=relu, last_act=true)
    output seg: parts x scalar over points = mlp(u0, [width, parts], act=relu)
}

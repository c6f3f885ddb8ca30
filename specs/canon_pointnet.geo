# Canonicalised PointNet (Kaba et al., 2023): an equivariant net predicts a frame, PointNet runs in it.
#
# The canonicaliser is a small EGNN-style network (full edges) whose pooled outputs are three
# translation-invariant vectors relative to the centroid; Gram-Schmidt makes them an orthonormal
# frame F (exact under O(3), reflections included). The points' coordinates in F are invariant,
# so the PointNet backbone inside `canonical` is an ordinary, unconstrained network: typed
# without the E(3) factor, still permutation-equivariant (S(points) stays), invariant overall.
model CanonPointNet(classes: int = 10, hidden: int = 32, width: int = 64) {
    symmetry E(3) x S(points)
    domain pointcloud(points, dim=3, edges=full)
    input x: point(3) over points

    # Canonicaliser: invariant features, one message-passing step, three pooled vectors.
    c = mean(x, over=points)
    r = x - c
    d = x[dst] - x[src]
    h = mlp(sqnorm(r), [hidden, hidden], act=tanh)
    m = mlp(concat(h[dst], h[src], sqnorm(d)), [hidden, hidden], act=silu, last_act=true)
    h = h + mlp(concat(h, mean(m, over=edges, into=points)), [hidden, hidden], act=silu)
    v1 = mean(r * mlp(h, [hidden, 1], act=silu), over=points)
    v2 = mean(r * (dot(r, v1) * mlp(h, [hidden, 1], act=silu)), over=points)
    v3 = mean(r * (dot(r, v1) * dot(r, v2) * mlp(h, [hidden, 1], act=silu)), over=points)
    F = frame(v1, v2, v3)

    # PointNet (Qi et al. 2017) on the canonical coordinates: shared mlp, max, mlp head.
    y = to_frame(r, F)
    canonical {
        p = mlp(y, [width, 2 * width], act=relu, last_act=true)
        g = max(p, over=points)
        logits = mlp(g, [2 * width, width, classes], act=relu)
    }
    output logits: classes x scalar = logits
}

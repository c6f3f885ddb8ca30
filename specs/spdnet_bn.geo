# SPDNet with Riemannian batch normalisation (Brooks et al. 2019, "Riemannian batch normalization for SPD neural networks"): invariant to congruence by O(n) in training mode
model SPDNetBN(n: int = 6, hidden: int = 32, classes: int = 4, depth: int = 2) {
    symmetry O(n) x S(regions)
    domain set(regions)
    input x: spd(n) over regions  # covariance descriptors, one per region of a sample
    h = x
    repeat depth {
        b = spd_batch_norm(h, metric=airm)  # whiten the batch at its Karcher mean
        h = reeig(b)  # ReEig: U max(S, 1e-4) Ut
    }
    s = logeig(h)  # the matrix log, a sym(n)
    f = concat(eigvals(s), norm(s))  # invariants of X -> Q X Qt
    output logits: classes x scalar = mlp(mean(f, over=regions), [hidden, classes])
}

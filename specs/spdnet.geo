# SPD-matrix network invariant to congruence by O(n) (Huang & Van Gool, 2017)
model SPDNet(n: int = 6, hidden: int = 32, classes: int = 4) {
    symmetry O(n)
    input x: spd(n)
    r = reeig(x)  # ReEig: U max(S, 1e-4) Ut, equivariant
    s = logeig(r)  # LogEig: the matrix log, a sym(n), equivariant
    f = concat(eigvals(s), norm(s))  # invariants of X -> Q X Qt
    output logits: classes x scalar = mlp(f, [hidden, classes])
}

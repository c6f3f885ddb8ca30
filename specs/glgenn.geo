# GLGENN layers on Cl(1, 3): an O(1, 3)-invariant score of a set of four-momenta.
# Generalised Lipschitz group equivariant layers (Filimoshina & Shirokov, 2025) on Cl(1, 3):
# a set of four-momenta under O(1, 3) (both reflections included) and permutations;
# grade-wise linear maps (one weight per channel pair and grade), geometric products, CGENN's
# normalisation and gate, then an O(1, 3)-invariant score from the pooled scalar parts.
block glgenn_layer(
    h: c x multivector(1, 3) over particles,
    c: int = 8,
) -> c x multivector(1, 3) over particles {
    g = geometric_product(mv_linear(h, c), mv_linear(h, c, bias=false))
    h = mv_norm(h + mv_linear(concat(h, g), c))
    return h + mv_gate(mv_linear(concat(h, mean(h, over=particles)), c))
}

model GLGENN(c: int = 8, depth: int = 2, hidden: int = 32) {
    symmetry O(1, 3) x S(particles)
    domain set(particles)

    input p: vector over particles

    h = mv_linear(embed_vector(p), c)
    repeat depth {
        h = glgenn_layer(h, c=c)
    }
    # the scalar parts (the maps from multivectors to scalars are the grade-0 projection)
    s = linear(sum(h, over=particles), c x scalar)
    output score: scalar = mlp(s, [hidden, 1], act=silu)
}

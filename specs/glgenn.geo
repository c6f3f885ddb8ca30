# GLGENN layers on Cl(1, 3): an O(1, 3)-invariant score of a set of four-momenta.
# Generalised Lipschitz group equivariant layers (Filimoshina & Shirokov, 2025) on Cl(1, 3):
# a set of four-momenta under O(1, 3) (both reflections included) and permutations; GLGENN's
# weight sharing (`share=mod4`: one weight per subspace Cl^(m) of grades k = m mod 4, here
# grades 0 and 4 together) in the linear layers and the geometric-product layers, CGENN's
# normalisation and gate, then an O(1, 3)-invariant score from the pooled scalar parts.
block glgenn_layer(
    h: c x multivector(1, 3) over particles,
    c: int = 8,
) -> c x multivector(1, 3) over particles {
    # GLGENN's geometric-product layer: h times a normalised linear image of itself
    right = mv_norm(mv_linear(h, c, bias=false, share=mod4))
    g = mv_product(h, right, share=mod4)
    h = mv_norm(h + mv_linear(concat(h, g), c, share=mod4))
    return h + mv_gate(mv_linear(concat(h, mean(h, over=particles)), c, share=mod4))
}

model GLGENN(c: int = 8, depth: int = 2, hidden: int = 32) {
    symmetry O(1, 3) x S(particles)
    domain set(particles)

    input p: vector over particles

    h = mv_linear(embed_vector(p), c, share=mod4)
    repeat depth {
        h = glgenn_layer(h, c=c)
    }
    # the scalar parts (the maps from multivectors to scalars are the grade-0 projection)
    s = linear(sum(h, over=particles), c x scalar)
    output score: scalar = mlp(s, [hidden, 1], act=silu)
}

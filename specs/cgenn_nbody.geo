# CGENN for the charged N-body system: multivectors of Cl(3, 0) under E(3) x S(nodes).
# A Clifford group equivariant network (Ruhe, Brandstetter & Forré, 2023, section 5) with the
# EGNN N-body example's inputs (positions, velocities, charges): each particle's centred
# position, velocity and charge embedded in Cl(3, 0); layers of messages on the full graph
# built from grade-wise linear maps, geometric products, CGENN's normalisation and gated
# nonlinearity; the new position is the old one plus the vector part of the last layer.
block cgenn_layer(
    h: c x multivector(3, 0) over nodes,
    c: int = 8,
) -> c x multivector(3, 0) over nodes {
    # messages from the pair (h_i - h_j, h_i, h_j), a geometric-product layer, a gate
    m = mv_linear(concat(h[dst] - h[src], h[dst], h[src]), c)
    m = mv_norm(m + geometric_product(m, mv_linear(m, c, bias=false)))
    m = mv_gate(mv_linear(m, c))
    u = mv_linear(concat(h, mean(m, over=edges, into=nodes)), c)
    u = mv_norm(u + geometric_product(u, mv_linear(u, c, bias=false)))
    return h + mv_linear(mv_gate(u), c)
}

model CGENNNBody(c: int = 8, depth: int = 4) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)

    input x: point(3) over nodes
    input v: vector over nodes
    input q: scalar over nodes

    centred = x - mean(x, over=nodes)
    h = mv_linear(concat(embed_vector(centred), embed_vector(v), embed_scalar(q)), c)
    repeat depth {
        h = cgenn_layer(h, c=c)
    }
    output pos: point(3) over nodes = x + vector_part(mv_linear(h, 1))
}

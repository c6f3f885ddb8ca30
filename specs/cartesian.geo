# A Cartesian tensor network on a point cloud (in the spirit of TensorNet, Simeon & De Fabritiis,
# NeurIPS 2023): per-edge outer products of vectors into rank-2 tensors, split into their
# isotropic, antisymmetric and symmetric traceless parts, contracted back with edge vectors;
# it predicts an invariant energy and a symmetric rank-2 response (a polarisability).
block cartesian_layer(
    h: channels x scalar over nodes,
    t: channels x tensor(2) over nodes,
    u: channels x vector over edges,
    f: 8 x scalar over edges,
    channels: int = 8,
    hidden: int = 32,
) -> (channels x scalar over nodes, channels x tensor(2) over nodes) {
    # each part mixed across channels by its own learned map (the solver's basis)
    parts = linear(trace_part(t), channels x tensor(2))
    parts = parts + linear(antisym_part(t), channels x tensor(2))
    t = parts + linear(sym_part(t), channels x tensor(2))
    # messages: the neighbour's tensor contracted with the edge vectors, and their outer product
    s = mlp(concat(f, h[src], h[dst]), [hidden, channels], act=silu)
    m = contract(t[src], u) * s  # channels x vector over edges
    t = t + sum(outer(m, u), over=edges, into=nodes)
    # invariants of each part update the scalars
    inv = concat(h, trace(t), sqnorm(antisym_part(t)), sqnorm(sym_part(t)))
    h = h + mlp(inv, [hidden, channels], act=silu)
    return h, t
}

model CartesianNet(
    species: int = 4,
    channels: int = 8,
    hidden: int = 32,
    depth: int = 2,
    cutoff: float = 5.0,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff))
    input z: index(species) over nodes  # type indices 0..species-1
    input pos: point(3) over nodes

    h = embed(z, channels x scalar)
    r = pos[dst] - pos[src]  # vector over edges
    f = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 x scalar over edges
    u = linear(r, channels x vector) * mlp(f, [hidden, channels], act=silu)
    t = sum(outer(u, u), over=edges, into=nodes)  # channels x tensor(2) over nodes
    repeat depth {
        h, t = cartesian_layer(h, t, u, f, channels=channels, hidden=hidden)
    }
    output energy: scalar = sum(mlp(h, [hidden, 1], act=silu), over=nodes)
    # a symmetric rank-2 response: isotropic plus symmetric traceless parts of a learned sum
    a = sum(linear(t, tensor(2)), over=nodes)
    output alpha: tensor(2) = trace_part(a) + sym_part(a)
}

# An EquiformerV2-style network (Liao, Wood, Das & Smidt, "EquiformerV2: Improved Equivariant Transformers for Scaling to Higher-Degree Representations", ICLR 2024, arXiv:2306.12059).
# Each block: separable layer norm; eSCN SO(2) convolution messages from both ends of each edge; attention scores from the messages' invariant channels; a per-head softmax over each node's incoming edges; gated values weighed per head and summed; an output projection; a gated feed-forward part; residuals.
block equiformer_block(
    h: channels x 0e + channels x 1o + channels x 2e over nodes,
    r: vector over edges,
    w: 8 x scalar over edges,
    channels: int = 8,
    heads: int = 2,
    alpha: int = 8,
    hidden: int = 16,
    mmax: int = 1,
) -> channels x 0e + channels x 1o + channels x 2e over nodes {
    x = layer_norm(h, norm=separable)
    m = so2_conv(
        concat(x[src], x[dst]),
        r,
        w,
        out=channels x 0e + channels x 1o + channels x 2e,
        mmax=mmax,
    )
    s = mlp(linear(m, alpha x 0e), [alpha, heads], act=silu)  # heads x scalar over edges
    a = softmax(s, over=edges, into=nodes)  # per head, sums to 1 into each node
    v = so2_conv(gate(m), r, w, out=channels x 0e + channels x 1o + channels x 2e, mmax=mmax)
    o = sum(head_scale(a, v), over=edges, into=nodes)  # heads split every degree's channels
    h = h + linear(o, channels x 0e + channels x 1o + channels x 2e)
    f = linear(layer_norm(h, norm=separable), hidden x 0e + hidden x 1o + hidden x 2e)
    return h + linear(gate(f), channels x 0e + channels x 1o + channels x 2e)
}

model EquiformerV2(
    species: int = 4,
    channels: int = 8,
    heads: int = 2,
    alpha: int = 8,
    hidden: int = 16,
    mmax: int = 1,
    depth: int = 2,
    cutoff: float = 5.0,
) {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius(cutoff))
    input z: index(species) over nodes  # type indices 0..species-1
    input pos: point(3) over nodes

    r = pos[dst] - pos[src]
    w = radial_basis(norm(r), n=8, cutoff=cutoff)  # 8 x scalar over edges
    # The embedding: species on the scalars, spread to every degree by one SO(2) convolution.
    s = embed(z, channels x 0e)
    e = sum(
        so2_conv(s[src], r, w, out=channels x 0e + channels x 1o + channels x 2e, mmax=mmax),
        over=edges,
        into=nodes,
    )
    h = linear(concat(s, e), channels x 0e + channels x 1o + channels x 2e)
    repeat depth {
        h = equiformer_block(
            h,
            r,
            w,
            channels=channels,
            heads=heads,
            alpha=alpha,
            hidden=hidden,
            mmax=mmax,
        )
    }
    output energy: scalar = sum(
        mlp(linear(layer_norm(h, norm=separable), channels x 0e), [channels, 1], act=silu),
        over=nodes,
    )
}

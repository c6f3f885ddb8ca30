# Set Transformer (Lee et al., 2019): two SAB blocks (multi-head self-attention, residual, layer norm, row-wise feed-forward), PMA pooling with one learned seed, an MLP head.
block sab(x: dim x scalar over set, dim: int = 32, heads: int = 4) -> dim x scalar over set {
    q = linear(x, dim x scalar, bias=true)
    k = linear(x, dim x scalar, bias=true)
    v = linear(x, dim x scalar, bias=true)
    h = layer_norm(x + linear(attention(q, k, v, over=set, heads=heads), dim x scalar, bias=true))
    return layer_norm(h + mlp(h, [dim, dim], act=relu))
}

model SetTransformer(features: int = 4, dim: int = 32, heads: int = 4, outputs: int = 1) {
    symmetry S(set)
    domain set(set)
    input x: features x scalar over set

    h = linear(x, dim x scalar, bias=true)
    h = sab(h, dim=dim, heads=heads)
    h = sab(h, dim=dim, heads=heads)

    # PMA with one seed S: LN(S + W_o pool + b_o), the seed's own query S W_q learned as one
    z = mlp(h, [dim, dim], act=relu)
    k = linear(z, dim x scalar, bias=true)
    v = linear(z, dim x scalar, bias=true)
    p = layer_norm(linear(attention_pool(k, v, over=set, heads=heads), dim x scalar, bias=true))
    p = layer_norm(p + mlp(p, [dim, dim], act=relu))
    output y: outputs x scalar = mlp(p, [dim, outputs], act=relu)
}

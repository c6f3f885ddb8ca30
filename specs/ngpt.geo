# nGPT, the normalised transformer (Loshchilov, Hsieh, Sun and Ginsburg 2024, "nGPT: Normalized Transformer with Representation Learning on the Hypersphere", arXiv:2410.01131): token embeddings on the unit sphere; per block h <- Norm(h + alpha_A (Norm(attn(h)) - h)) and h <- Norm(h + alpha_M (Norm(mlp(h)) - h)) with learned per-channel eigen learning rates alpha (init 0.05, scale 1/sqrt(d)); q and k normalised per head and scaled by s_qk, softmax scale sqrt(d_k); SwiGLU with s_u, s_v (nu also times sqrt(d)); causal attention with rotary positions; logits scaled by s_z. The language has no division or square root: `inv_root` is 1/sqrt(dim), `root` sqrt(dim), `head_dim` dim/heads (keep them so when changing `dim` or `heads`). One departure from the paper: the weight matrices are not renormalised after each step (an optimiser's job, outside the forward).
block ngpt_block(
    h: unit(dim) over tokens,
    dim: int = 16,
    heads: int = 2,
    hidden: int = 32,
    inv_root: float = 0.25,
    root: float = 4.0,
    head_dim: float = 8.0,
) -> unit(dim) over tokens {
    q = rotary(linear(h, dim x scalar, bias=false), over=tokens, heads=heads)
    k = rotary(linear(h, dim x scalar, bias=false), over=tokens, heads=heads)
    v = linear(h, dim x scalar, bias=false)
    # s_qk scales q and k, one learned vector: squared on q; d_k makes the softmax scale sqrt(d_k)
    qs = head_dim * channel_scale(head_normalize(q, heads=heads), init=1.0, base=inv_root, power=2)
    ks = head_normalize(k, heads=heads)
    ha = normalize(linear(attention(qs, ks, v, over=tokens, heads=heads), dim x scalar, bias=false))
    h = normalize(h + channel_scale(ha - h, init=0.05, base=inv_root))  # alpha_A
    u = channel_scale(linear(h, hidden x scalar, bias=false), init=1.0, base=1.0)  # s_u
    nu = channel_scale(linear(h, hidden x scalar, bias=false), init=root, base=1.0)  # s_v, times sqrt(d)
    hm = normalize(linear(u * act(nu, silu), dim x scalar, bias=false))
    return normalize(h + channel_scale(hm - h, init=0.05, base=inv_root))  # alpha_M
}

model NGPT(
    vocab: int = 32,
    dim: int = 16,
    heads: int = 2,
    hidden: int = 32,
    depth: int = 2,
    inv_root: float = 0.25,
    root: float = 4.0,
    head_dim: float = 8.0,
) {
    symmetry trivial
    domain sequence(tokens, causal=true)
    input z: index(vocab) over tokens

    h = normalize(embed(z, dim x scalar))
    repeat depth {
        h = ngpt_block(
            h,
            dim=dim,
            heads=heads,
            hidden=hidden,
            inv_root=inv_root,
            root=root,
            head_dim=head_dim,
        )
    }
    output hidden_state: unit(dim) over tokens = h
    output logits: vocab x scalar over tokens = channel_scale(  # s_z
        linear(h, vocab x scalar, bias=false),
        init=1.0,
        base=inv_root,
    )
}

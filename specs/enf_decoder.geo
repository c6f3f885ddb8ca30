# Equivariant neural field decoder (Wessels et al. 2024, "Grounding Continuous Representations in Geometry: Equivariant Neural Fields", arXiv:2406.05753): each query coordinate cross-attends to its k nearest latents; queries from a Fourier embedding of the relative position x - p (the bi-invariant of translations), keys from the latents' context, values from the context modulated by a second embedding of x - p, a Gaussian window on the distance, an MLP head giving the field value.
model EnfDecoder(
    latent: int = 8,
    hidden: int = 16,
    heads: int = 2,
    k: int = 4,
    sigma: float = 1.0,
    outputs: int = 1,
) {
    symmetry T(2) x S(latents) x S(queries)
    domain pointcloud(latents, dim=2)
    domain pointcloud(queries, dim=2)
    domain edges(pairs, src=latents, dst=queries, rule=knn(k))
    input p: point(2) over latents
    input c: latent x scalar over latents
    input x: point(2) over queries

    # the bi-invariant of T(2): the query's position relative to the latent's
    a = x[dst(pairs)] - p[src(pairs)]
    eq = act(linear(a, hidden x scalar, bias=true), sin)
    ev = act(linear(a, hidden x scalar, bias=true), sin)

    # queries from the relative position, keys and values from the context; the values
    # conditioned on the relative position (v (1 + gamma) + beta)
    q = linear(eq, hidden x scalar, bias=true)
    kc = linear(c, hidden x scalar, bias=true)
    vc = linear(c, hidden x scalar, bias=true)[src(pairs)]
    gamma = mlp(ev, [hidden, hidden], act=gelu)
    beta = mlp(ev, [hidden, hidden], act=gelu)
    v = vc + vc * gamma + beta

    # softmax over each query's latents, windowed by exp(-|x - p|² / sigma²)
    h = attention(q, kc, v, over=pairs, heads=heads, window=sigma)
    h = linear(h, hidden x scalar, bias=true)
    output f: outputs x scalar over queries = mlp(h, [hidden, outputs], act=gelu)
}

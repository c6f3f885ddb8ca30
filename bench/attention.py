"""Dense multi-head attention: geoc's `attention` (with `linear` projections) against
torch.nn.MultiheadAttention, forward + backward, in one run; with ``--graph``, graph attention
(`softmax` over edges) against PyTorch Geometric's TransformerConv.

    python bench/attention.py                  # 1,000 tokens, dim 64, 4 heads, 1 and 2 threads
    python bench/attention.py --tokens 256 --rounds 3 --thread-counts 1
    python bench/attention.py --graph          # 1,000 nodes, 16 random in-edges each, 1 head
    python bench/attention.py --graph --tokens 10000 --degree 20   # the 10k nodes / 200k edges

One set (one graph) of ``tokens`` elements, float32. The geoc module is the spec below (in-,
out-projections written as `linear`s, heads split inside `attention`, lowered through
`scaled_dot_product_attention`); MultiheadAttention gets the same weights (checked equal to
1e-5 before timing) and runs with ``need_weights=False`` (its fused path). Medians of
alternating rounds; ratio = MultiheadAttention / geoc (above 1: geoc faster).

With ``--graph`` the spec is GRAPH_SPEC as written; the optimiser rewrites its scores
``linear(q[dst] * k[src])`` and its ``sum(a * v[src])`` into products over the edges
(``geoc compile --explain-opt``: "products over edges"), which the CPU computes as sparse
products without per-edge rows (backends/torch_fx/rewritten/csr_kernels.py); TransformerConv
gets the same weights (checked equal to 1e-4 before timing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import bench_parser, medians_ms, run_header, time_alternating, write_json

from geoc.backends.torch_fx.api import compile

SPEC = """
model Mha(dim: int = 64, heads: int = 4) {
    symmetry S(set)
    domain set(set)
    input x: dim x scalar over set
    q = linear(x, dim x scalar, bias=true)
    k = linear(x, dim x scalar, bias=true)
    v = linear(x, dim x scalar, bias=true)
    a = attention(q, k, v, over=set, heads=heads)
    output y: dim x scalar over set = linear(a, dim x scalar, bias=true)
}
"""


GRAPH_SPEC = """
model GraphAttention(dim: int = 64) {
    symmetry S(nodes)
    domain graph(nodes)
    input h: dim x scalar over nodes
    q = linear(h, dim x scalar, bias=true)
    k = linear(h, dim x scalar, bias=true)
    v = linear(h, dim x scalar, bias=true)
    s = linear(q[dst] * k[src], scalar, bias=false)
    a = softmax(s, over=edges, into=nodes)
    m = sum(a * v[src], over=edges, into=nodes)
    output y: dim x scalar over nodes = m + linear(h, dim x scalar, bias=true)
}
"""


def copied(module: torch.nn.Module, dim: int, heads: int) -> torch.nn.MultiheadAttention:
    """A MultiheadAttention holding the geoc module's weights."""
    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        for i, name in enumerate("qkv"):
            layer = getattr(module, name)
            mha.in_proj_weight[i * dim : (i + 1) * dim] = layer.weight
            mha.in_proj_bias[i * dim : (i + 1) * dim] = layer.bias
        mha.out_proj.weight.copy_(module.y.weight)
        mha.out_proj.bias.copy_(module.y.bias)
    return mha


def graph_main(args) -> None:
    """TransformerConv(dim, dim, heads=1): α_ij = softmax_j(q_i · k_j / √dim), Σ α v_j + skip;
    geoc's score `linear` holds 1/√dim in every weight (the dot product)."""
    from torch_geometric.nn import TransformerConv

    device = torch.device(args.device)
    module = compile(GRAPH_SPEC, {"dim": args.dim})
    conv = TransformerConv(args.dim, args.dim, heads=1, root_weight=True)
    with torch.no_grad():
        for name, lin in (("q", conv.lin_query), ("k", conv.lin_key), ("v", conv.lin_value)):
            lin.weight.copy_(getattr(module, name).weight)
            lin.bias.copy_(getattr(module, name).bias)
        conv.lin_skip.weight.copy_(module.y.linear.weight)
        conv.lin_skip.bias.copy_(module.y.linear.bias)
        module.s.weight.fill_(args.dim**-0.5)
    module, conv = module.to(device), conv.to(device)
    gen = torch.Generator().manual_seed(0)
    n, degree = args.tokens, args.degree
    x = torch.randn(n, args.dim, generator=gen).to(device)
    dst = torch.arange(n).repeat_interleave(degree)
    edges = torch.stack([torch.randint(0, n, (n * degree,), generator=gen), dst]).to(device)
    with torch.no_grad():
        error = float((module(h=x, edge_index=edges)["y"] - conv(x, edges)).abs().max())
    print(run_header(args.rounds))
    print(f"max |geoc - TransformerConv| = {error:.1e}")
    assert error < 1e-4
    xg, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
    runs = {
        "geoc": lambda: module(h=xg, edge_index=edges)["y"].sum().backward(),
        "pyg": lambda: conv(xp, edges).sum().backward(),
    }
    print(f"\n| threads | geoc | TransformerConv | ratio ({n:,} nodes x {degree} edges) |")
    print("|---:|---:|---:|---:|")
    for threads in args.thread_counts:
        torch.set_num_threads(threads)
        ms = medians_ms(time_alternating(runs, device, args.rounds))
        ratio = ms["pyg"] / ms["geoc"]
        print(f"| {threads} | {ms['geoc']:.2f} ms | {ms['pyg']:.2f} ms | {ratio:.2f}x |")


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tokens", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--graph", action="store_true")
    parser.add_argument("--degree", type=int, default=16, help="in-edges per node (--graph)")
    parser.add_argument("--json", metavar="PATH", help="write the dense rows as JSON")
    args = parser.parse_args()
    if args.graph:
        graph_main(args)
        return
    device = torch.device(args.device)
    module = compile(SPEC, {"dim": args.dim, "heads": args.heads}).to(device)
    mha = copied(module, args.dim, args.heads).to(device)
    x = torch.randn(args.tokens, args.dim, generator=torch.Generator().manual_seed(0)).to(device)
    want = mha(x[None], x[None], x[None], need_weights=False)[0][0]
    error = float((module(x=x)["y"] - want).abs().max())
    print(run_header(args.rounds))
    print(f"max |geoc - MultiheadAttention| = {error:.1e}")
    assert error < 1e-5
    xg = x.clone().requires_grad_()
    xb = x[None].clone().requires_grad_()

    def geoc_step() -> None:
        module(x=xg)["y"].sum().backward()

    def torch_step() -> None:
        mha(xb, xb, xb, need_weights=False)[0].sum().backward()

    print(f"\n| threads | geoc | MultiheadAttention | ratio ({args.tokens:,} tokens) |")
    print("|---:|---:|---:|---:|")
    rows = []
    for threads in args.thread_counts:
        torch.set_num_threads(threads)
        runs = {"geoc": geoc_step, "torch": torch_step}
        ms = medians_ms(time_alternating(runs, device, args.rounds))
        ratio = ms["torch"] / ms["geoc"]
        print(f"| {threads} | {ms['geoc']:.2f} ms | {ms['torch']:.2f} ms | {ratio:.2f}x |")
        case = f"{args.tokens} tokens {args.device} {threads} threads"
        rows += [{"case": case, "impl": impl, "median_ms": ms[impl]} for impl in ms]
    write_json(args.json, rows, max_error=error)


if __name__ == "__main__":
    main()

# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The eSCN spec's convolution against a plain eSCN SO(2) convolution from the paper: fwd+bwd.

    python bench/escn.py                     # 256 nodes, about 20 neighbours, 1 and 2 threads
    python bench/escn.py --nodes 512 --rounds 10
    python bench/escn.py --quick             # 64 nodes, 1 thread, 3 rounds (a smoke run)
    python bench/escn.py --json escn.json    # the rows as JSON too
    python bench/escn.py --device cuda       # on a GPU (not yet run on one)

geoc: the convolution of ``specs/escn.geo``'s interaction blocks alone,
``tp_conv(h, sh, w, out=16x0e + 16x1o + 16x2e + 16x3o + 16x4e, hidden=32)`` on
``h`` of the same irreps, ``sh`` to lmax 4 and 8 Bessel functions (cutoff 5 Å), lowered with
``algorithm=so2`` (eSCN's rotation to the edge frame, ``docs/escn.md``) and, as a second row,
``algorithm=cg`` (Clebsch-Gordan); compiled with ``given_edges=True`` so it reads the same
precomputed edge list as the plain model.

Plain: written here from Passaro & Zitnick, "Reducing SO(3) Convolutions to SO(2) for
Efficient Equivariant GNNs" (ICML 2023), independently of geoc's kernels. Per edge: the Euler
angles ``(alpha, beta)`` of the direction (``e3nn.o3.xyz_to_angles``, polar axis ``y``), the
block-diagonal Wigner matrix ``D = Y(alpha) J Y(beta) J^T`` per degree (``Y``: rotations about
the polar axis, cos/sin of ``m`` times the angle; ``J``: a constant change of axis, as eSCN's
``Jd`` matrices), features of ``src`` rotated into the edge frame (``D^T x``); there, per
``|m| <= mmax = lmax``, the coefficients of every degree and channel with that ``m`` are scaled
by a radial MLP of the distance (Linear(8, 32), SiLU, Linear(32, ...), one factor shared by
``+m`` and ``-m``) and mixed by the SO(2) linear map (``m = 0``: one real matrix;
``m > 0``: ``[[W_r, -W_i], [W_i, W_r]]`` on ``(+m, -m)``), rotated back (``D y``) and summed
into ``dst``. The plain model is checked equivariant (float64, random rotation) before timing.

The two are not one function: geoc's ``tp_conv`` is NequIP's channelwise (uvu) tensor product
with per-edge, per-path weights followed by a node-wise linear map, while the paper's SO(2)
map is dense across degrees and channels for each ``m`` with shared weights (far more
parameters); mapping one's weights onto the other is not possible in general. So the rows
compare cost at equal sizes (channels, lmax, mmax, edges, radial MLP width), forward +
backward of ``y.square().sum()`` into the parameters and the input features, float32, inside
the step everything that depends on the positions (edge vectors, rotations, radial basis).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from e3nn import o3
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from nequip import bessel  # bench/nequip.py: the same basis, the same BASIS and CUTOFF
from timing import (
    bench_parser,
    float64_default,
    medians_ms,
    run_header,
    time_alternating,
    write_json,
)

import geoc

LMAX, CHANNELS, HIDDEN, BASIS, CUTOFF = 4, 16, 32, 8, 5.0
DENSITY = 0.04  # atoms per Å^3: about 20 neighbours within 5 Å (fewer near the open faces)


def irreps(channels: int, lmax: int) -> str:
    return " + ".join(f"{channels}x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(lmax + 1))


def geoc_conv(channels: int, lmax: int, algorithm: str) -> nn.Module:
    ir = irreps(channels, lmax)
    source = f"""model Conv() {{
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=radius({CUTOFF}))
    input h: {ir} over nodes
    input pos: point(3) over nodes
    r = pos[dst] - pos[src]
    sh = spherical_harmonics(r, lmax={lmax})
    w = radial_basis(norm(r), n={BASIS}, cutoff={CUTOFF})
    output y: {ir} over nodes = tp_conv(h, sh, w, out={ir}, hidden={HIDDEN}, algorithm={algorithm})
}}
"""
    return geoc.compile(source, validate=False, given_edges=True)


# --- the plain model --------------------------------------------------------------------------


def polar_rotation_parts(l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``exp(t J_y) = P0 + sum_m cos(m t) P_m + sin(m t) G_m`` on degree ``l``: ``J_y``
    (e3nn's generator) acts on each pair ``(+m, -m)`` as ``m`` times a quarter turn, so
    ``G_m = J_y / m`` there. Returns ``m`` per component and the two constant matrices."""
    generator = o3.so3_generators(l)[1].double()
    m = torch.arange(-l, l + 1).abs().double()
    sine = generator / m.clamp(min=1).unsqueeze(0)  # columns scaled by 1/|m| (J_y pairs m, -m)
    return m, torch.eye(2 * l + 1, dtype=torch.float64), sine


class PlainSO2Conv(nn.Module):
    def __init__(self, channels: int, lmax: int) -> None:
        super().__init__()
        self.channels, self.lmax = channels, lmax
        width = (lmax + 1) ** 2
        # The change of axis J: the rotation taking y to x, as a Wigner matrix.
        to_x = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).double()
        blocks_j, m_all, sines = [], [], []
        with float64_default():  # e3nn builds its generators in the default dtype
            for l in range(lmax + 1):
                blocks_j.append(o3.wigner_D(l, *o3.matrix_to_angles(to_x)))
                m, _, sine = polar_rotation_parts(l)
                m_all.append(m)
                sines.append(sine)
        self.register_buffer("j", torch.block_diag(*blocks_j))
        self.register_buffer("m", torch.cat(m_all))
        self.register_buffer("sine", torch.block_diag(*sines))
        # Components of each |m| (degree-major within it), for +m and -m.
        starts = [l * l + l for l in range(lmax + 1)]
        self.plus = [[starts[l] + m for l in range(m, lmax + 1)] for m in range(lmax + 1)]
        self.minus = [[starts[l] - m for l in range(m, lmax + 1)] for m in range(lmax + 1)]
        order = [i for m in range(lmax + 1) for i in (self.plus[m] + (self.minus[m] if m else []))]
        self.register_buffer("order", torch.tensor(order))
        self.register_buffer("unorder", torch.argsort(torch.tensor(order)))
        sizes = [channels * (lmax + 1 - m) for m in range(lmax + 1)]
        self.sizes = sizes
        self.radial = nn.Sequential(
            nn.Linear(BASIS, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, sum(sizes))
        )
        self.w0 = nn.Linear(sizes[0], sizes[0])
        self.w_r = nn.ParameterList(
            nn.Parameter(torch.randn(s, s) / math.sqrt(2 * s)) for s in sizes[1:]
        )
        self.w_i = nn.ParameterList(
            nn.Parameter(torch.randn(s, s) / math.sqrt(2 * s)) for s in sizes[1:]
        )
        self.width = width

    def polar(self, angle: torch.Tensor) -> torch.Tensor:
        """Block-diagonal ``exp(angle J_y)`` per edge, ``[E, width, width]``."""
        t = angle.unsqueeze(-1) * self.m  # [E, width]
        return torch.diag_embed(torch.cos(t)) + torch.sin(t).unsqueeze(-1) * self.sine

    def wigner(self, r: torch.Tensor) -> torch.Tensor:
        alpha, beta = o3.xyz_to_angles(r)
        return self.polar(alpha) @ self.j @ self.polar(beta) @ self.j.T

    def to_channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """e3nn layout ``[N, sum C (2l+1)]`` -> ``[N, C, (lmax+1)^2]``."""
        blocks, start = [], 0
        for l in range(self.lmax + 1):
            size = self.channels * (2 * l + 1)
            blocks.append(x[:, start : start + size].reshape(-1, self.channels, 2 * l + 1))
            start += size
        return torch.cat(blocks, -1)

    def to_e3nn(self, x: torch.Tensor) -> torch.Tensor:
        blocks = torch.split(x, [2 * l + 1 for l in range(self.lmax + 1)], dim=-1)
        return torch.cat([b.flatten(1) for b in blocks], -1)

    def so2_linear(self, x: torch.Tensor, radial: torch.Tensor) -> torch.Tensor:
        """``x`` ``[E, C, width]`` in the edge frame, components in ``order``."""
        edges, out, start = x.shape[0], [], 0
        scale = torch.split(radial, self.sizes, dim=-1)
        for m, size in enumerate(self.sizes):
            count = size // self.channels
            plus = x[:, :, start : start + count].reshape(edges, size) * scale[m]
            start += count
            if m == 0:
                out.append(self.w0(plus).reshape(edges, self.channels, count))
                continue
            minus = x[:, :, start : start + count].reshape(edges, size) * scale[m]
            start += count
            w_r, w_i = self.w_r[m - 1], self.w_i[m - 1]
            out.append((plus @ w_r - minus @ w_i).reshape(edges, self.channels, count))
            out.append((plus @ w_i + minus @ w_r).reshape(edges, self.channels, count))
        return torch.cat(out, -1)

    def forward(self, h, pos, src, dst):
        r = pos[dst] - pos[src]
        distance = r.norm(dim=-1, keepdim=True)
        radial = self.radial(bessel(distance))
        d = self.wigner(r)  # [E, width, width]
        x = self.to_channels_last(h)[src] @ d  # rows: x^T D = (D^T x)^T, into the edge frame
        y = self.so2_linear(x[:, :, self.order], radial)[:, :, self.unorder]
        y = y @ d.transpose(1, 2)  # back: (D y)^T
        summed = y.new_zeros((h.shape[0], *y.shape[1:])).index_add(0, dst, y)
        return self.to_e3nn(summed)


# --- inputs, checks, timing -------------------------------------------------------------------


def point_cloud(nodes: int, dtype: torch.dtype, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random points in a cube at ``DENSITY``, features of the conv's irreps, edges within the
    cutoff (every ordered pair of distinct points closer than it)."""
    gen = torch.Generator().manual_seed(seed)
    side = (nodes / DENSITY) ** (1 / 3)
    pos = (torch.rand(nodes, 3, generator=gen) * side).to(dtype)
    h = torch.randn(nodes, CHANNELS * (LMAX + 1) ** 2, generator=gen).to(dtype)
    close = (torch.cdist(pos, pos) < CUTOFF) & ~torch.eye(nodes, dtype=torch.bool)
    dst, src = close.nonzero().unbind(-1)
    return {"h": h, "pos": pos, "src": src, "dst": dst}


def check_equivariant(plain: PlainSO2Conv) -> None:
    """The plain model commutes with rotations (float64): conv(R pos, D h) = D conv(pos, h)."""
    plain = plain.double()
    data = point_cloud(24, torch.float64, seed=5)
    with float64_default(), torch.random.fork_rng():
        torch.manual_seed(5)  # one fixed rotation: the check must not depend on the draw
        rotation = o3.rand_matrix()
        d = o3.Irreps(irreps(CHANNELS, LMAX)).D_from_matrix(rotation)
    moved = plain(data["h"] @ d.T, data["pos"] @ rotation.T, data["src"], data["dst"])
    expected = plain(data["h"], data["pos"], data["src"], data["dst"]) @ d.T
    error = ((moved - expected).abs().max() / expected.abs().max()).item()
    plain.float()
    if error > 1e-9:  # edge frames near a pole lose a few digits (1.2e-10 seen for one draw)
        raise AssertionError(f"the plain SO(2) convolution is not equivariant: {error:.1e}")


def step(call: Callable[[torch.Tensor], torch.Tensor], module: nn.Module, h: torch.Tensor):
    def run() -> None:
        module.zero_grad(set_to_none=True)
        h.grad = None
        call(h).square().sum().backward()

    return run


def contenders(
    nodes: int, device: torch.device
) -> tuple[dict[str, Callable[[], None]], dict[str, int], int]:
    data = {k: v.to(device) for k, v in point_cloud(nodes, torch.float32).items()}
    h = data["h"].requires_grad_()
    edge_index = torch.stack((data["src"], data["dst"]))
    plain = PlainSO2Conv(CHANNELS, LMAX)
    check_equivariant(plain)  # on the CPU
    plain = plain.to(device)
    modules: dict[str, nn.Module] = {"plain eSCN SO(2)": plain}
    calls: dict[str, Callable] = {
        "plain eSCN SO(2)": lambda x: plain(x, data["pos"], data["src"], data["dst"])
    }
    for algorithm in ("so2", "cg"):
        module = geoc_conv(CHANNELS, LMAX, algorithm).to(device)
        name = f"geoc tp_conv {algorithm}"
        modules[name] = module
        calls[name] = (lambda m: lambda x: m(h=x, pos=data["pos"], edge_index=edge_index)["y"])(
            module
        )
    runs = {name: step(calls[name], modules[name], h) for name in modules}
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in modules.items()}
    return runs, params, edge_index.shape[1]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--nodes", type=int, default=None, help="default 256 (quick: 64)")
    parser.add_argument("--thread-counts", type=int, nargs="+", default=None,
                        help="default 1 2 (quick: 1)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=None, help="default 10 (quick: 3)")
    parser.add_argument("--quick", action="store_true", help="64 nodes, 1 thread, 3 rounds")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    device = torch.device(args.device)
    nodes = args.nodes or (64 if args.quick else 256)
    threads = args.thread_counts or ([1] if args.quick else [1, 2])
    rounds = args.rounds or (3 if args.quick else 10)
    print(run_header(rounds))
    rows = []
    for count in threads:
        torch.set_num_threads(count)
        runs, params, edges = contenders(nodes, device)
        if count == threads[0]:
            print(f"{nodes} nodes, {edges} edges; channels {CHANNELS}, lmax = mmax = {LMAX}; "
                  "parameters " + ", ".join(f"{k} {v:,}" for k, v in params.items()))  # fmt: skip
            print("\n| threads | impl | median | plain / impl |\n|---:|---|---:|---:|")
        medians = medians_ms(time_alternating(runs, device, rounds))
        for impl, ms in medians.items():
            ratio = medians["plain eSCN SO(2)"] / ms
            print(f"| {count} | {impl} | {ms:.1f} ms | {ratio:.2f}x |", flush=True)
            rows.append({"case": f"{nodes} nodes {count}t", "impl": impl, "median_ms": ms,
                         "threads": count, "edges": edges})  # fmt: skip
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()

"""A hyperbolic graph network: embed a tree in the hyperbolic plane, against the Euclidean one.

docs/tutorials/hyperbolic_graph.md walks through it. ``hyperbolic_graph.geo`` (Lorentz model,
HGCN-style) and the built-in Euclidean ``gcn`` map one-hot node features of a balanced tree to
2-D embeddings (messages run over the tree's edges) and are trained alike so that embedding
distances match path lengths in the tree: the geodesic distance of the hyperboloid for the
hyperbolic model, the Euclidean one for GCN. A tree embeds in the hyperbolic plane with low
distortion, in the Euclidean plane only with a distortion that grows with its size (Sarkar
2011). Reported: the average distortion mean |d_emb / d_tree - 1| over all pairs, the mean
average precision of reconstructing the edges from the distances (Nickel & Kiela 2017), and a
figure of both embeddings (the hyperbolic one in the Poincaré disk).

    .venv/bin/python examples/tutorials/hyperbolic_graph.py          # 121 nodes, 300 epochs
    .venv/bin/python examples/tutorials/hyperbolic_graph.py --quick  # seconds
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import geoc
from geoc.backends.torch_fx.verify import check_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import arguments, pyplot, savefig, write_report  # noqa: E402
from hgcn_tree import (  # noqa: E402  (examples/hgcn_tree.py: tree, distances, mAP)
    balanced_tree,
    euclid_dist,
    lorentz_dist,
    mean_average_precision,
    path_lengths,
)

SPEC = HERE / "hyperbolic_graph.geo"


@dataclass(frozen=True)
class Settings:
    branching: int = 3
    depth: int = 4  # 121 nodes
    epochs: int = 300
    lr: float = 0.02
    hidden: int = 8


QUICK = Settings(branching=2, depth=3, epochs=30)


def train(model, distance, inputs: dict, tree: torch.Tensor, settings: Settings) -> dict:
    """Adam on mean (d_emb / d_tree - 1)² over all pairs; distortion, mAP, embedding."""
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    pairs = torch.triu_indices(len(tree), len(tree), 1)
    target = tree[pairs[0], pairs[1]]
    for _ in range(settings.epochs):
        dist = distance(model(**inputs)["z"])[pairs[0], pairs[1]]
        loss = (dist / target - 1).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        z = model(**inputs)["z"]
        dist = distance(z)
        distortion = float((dist[pairs[0], pairs[1]] / target - 1).abs().mean())
        return {"distortion": distortion, "map": mean_average_precision(dist, tree), "z": z}


def poincare(z: torch.Tensor) -> torch.Tensor:
    """Hyperboloid (k = 1, time first) to the Poincaré disk: x_s / (1 + x_0)."""
    return z[:, 1:] / (1 + z[:, :1])


def plot(found: dict, edges: torch.Tensor, path: Path) -> Path:
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    for axis, (name, points) in zip(axes, found.items(), strict=True):
        for u, v in edges.T.tolist():
            axis.plot(*points[[u, v]].T, color="grey", linewidth=0.6)
        axis.scatter(*points.T, s=8, c=range(len(points)), cmap="viridis", zorder=3)
        axis.set(title=name, aspect="equal", xticks=[], yticks=[])
    axes[0].add_patch(plt.Circle((0, 0), 1, fill=False, color="black", linewidth=0.8))
    return savefig(figure, path)


def main(argv: list[str] | None = None) -> int:
    args = arguments("hyperbolic_graph", __doc__, argv)
    settings = QUICK if args.quick else Settings()
    n, edges = balanced_tree(settings.branching, settings.depth)
    tree = path_lengths(n, edges)
    inputs = {"x": torch.eye(n), "edge_index": torch.cat([edges, edges.flip(0)], 1)}
    print(f"balanced tree: {n} nodes (branching {settings.branching}, depth {settings.depth})")
    runs = {
        "hyperbolic (this spec)": (SPEC, {"hidden": settings.hidden}, lorentz_dist),
        "Euclidean (gcn)": ("gcn", {"dim": 2}, euclid_dist),
    }
    results, points, checks = {}, {}, {}
    for name, (spec, params, distance) in runs.items():
        model = geoc.compile(spec, params={"features": n, **params}, seed=args.seed)
        found = train(model, distance, inputs, tree, settings)
        checks[name] = check_module(model).passed  # trained: still permutation-equivariant
        results[name] = {"distortion": found["distortion"], "map": found["map"]}
        z = found["z"]
        points[name] = poincare(z) if distance is lorentz_dist else z
        print(
            f"{name:24s} distortion {found['distortion']:.3f}  mAP {found['map']:.3f}  "
            f"check {'passed' if checks[name] else 'FAILED'}"
        )
    on_manifold = float((points["hyperbolic (this spec)"].norm(dim=-1)).max())
    figure = plot(points, edges, args.out / "embeddings.png")
    write_report(
        args,
        {
            "nodes": n,
            "results": results,
            "checks_passed": checks,
            "max_poincare_radius": on_manifold,
            "figure": str(figure),
            "settings": asdict(settings),
        },
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

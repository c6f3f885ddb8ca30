"""Build the E(n)-equivariant GNN of specs/egnn.geo from Python, then compile and run it.

The builder writes the same program the parser would read, so the IR (node ids included) and
the diagnostics are the parser's; errors point at the lines of this file.

    python examples/build_egnn.py            # IR summary, the .geo text, one forward pass
    python examples/build_egnn.py --broken   # the diagnostic for an MLP fed a vector
"""

from __future__ import annotations

import sys

import geoc
from geoc.builder import Builder, Tensor
from geoc.diagnostics import GeoError
from geoc.ir import Graph


def build_egnn(hidden: int = 64, depth: int = 4, broken: bool = False) -> Builder:
    b = Builder("EGNN", params={"features": 16, "hidden": hidden, "depth": depth})

    @b.block(
        "egnn_layer",
        {"h": "hidden x scalar over nodes", "x": "point(3) over nodes", "hidden": (int, 64)},
        returns=("hidden x scalar over nodes", "point(3) over nodes"),
    )
    def egnn_layer(h: Tensor, x: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        r = b.let("r", x["dst"] - x["src"])  # a vector over edges
        # The message sees |r|^2, an invariant; feeding `r` itself breaks the symmetry.
        geometry = r if broken else b.call("sqnorm", r)
        edge = b.call("concat", h["dst"], h["src"], geometry)
        m = b.let("m", b.call("mlp", edge, [hidden, hidden], act="silu", last_act=True))
        weight = b.call("mlp", m, [hidden, 1], act="silu")
        dx = b.let("dx", b.call("mean", r * weight, over="edges", into="nodes"))
        node = b.call("concat", h, b.call("sum", m, over="edges", into="nodes"))
        h2 = b.let("h2", h + b.call("mlp", node, [hidden, hidden], act="silu"))
        return h2, x + dx

    b.symmetry("E(3) x S(nodes)")
    b.domain("pointcloud(nodes, dim=3, edges=full)")
    h = b.input("h", "features x scalar over nodes")
    x = b.input("x", "point(3) over nodes")
    h = b.let("h", b.call("linear", h, "hidden x scalar"))
    with b.repeat("depth"):
        h, x = b.let(("h", "x"), egnn_layer(h, x, hidden="hidden"))
    energy = b.call("sum", b.call("mlp", h, ["hidden", 1], act="silu"), over="nodes")
    b.output("energy", "scalar", energy)
    b.output("pos", "point(3) over nodes", x)
    return b


def summary(graph: Graph) -> str:
    """One line per IR node: id, operator, output type."""
    width = max(len(n.id) for n in graph)
    rows = [f"{graph.name}: {graph.group} on {graph.domain}, params {graph.params}"]
    rows += [f"  {n.id:<{width}}  {n.op:<7} {', '.join(map(str, n.out_types))}" for n in graph]
    rows += [f"  output {p.name}: {p.type} = {p.value}" for p in graph.outputs.values()]
    return "\n".join(rows)


def run(graph: Graph) -> None:
    """Compile the IR with the torch.fx backend and run it on a random cloud of 5 atoms."""
    import torch

    module = geoc.compile(graph, seed=0)
    out = module(h=torch.randn(5, 16), x=torch.randn(5, 3))
    print(f"energy {out['energy'].detach().numpy()}, pos {tuple(out['pos'].shape)}")


def main(argv: list[str]) -> int:
    builder = build_egnn(depth=2, broken="--broken" in argv)
    try:
        graph = builder.build()
    except GeoError as err:
        print(err.render(), file=sys.stderr)
        return 1
    print(summary(graph), end="\n\n")
    print(builder.source())
    run(graph)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

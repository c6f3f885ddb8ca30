"""The families the soundness fuzzer draws from: a group, a domain and input atoms each, plus
the templates that apply there. ``specs()`` draws a family, then a spec of it."""

from __future__ import annotations

from collections.abc import Callable

import cartesian_templates as ct
import clifford_templates as clt
import field_templates as ft
import spec_templates as t
from hypothesis import strategies as st
from spec_grammar import Family, Spec, Ty, grow, scalars
from weights_templates import weights

CORE = [t.linear, t.act, t.mlp, t.add, t.scale, t.negate, t.concat]
GEOMETRIC = [*CORE, t.norm, t.dot, t.gate, t.normalising]
EDGES = [t.gather, t.scatter, t.message, t.sheaf]


def _irreps(draw, atoms: tuple[str, ...]) -> Ty:
    chosen = [a for a in atoms if draw(st.booleans())] or [atoms[0]]
    return Ty(tuple((draw(st.integers(1, 2)), a) for a in chosen))


def _ties(draw, rule: str) -> dict:
    """kNN clouds sometimes sit on an integer lattice, full of tied neighbours (issue 12)."""
    return {"lattice": True, "tags": ("knn_ties",)} if rule == "knn" and draw(st.booleans()) else {}


def _edge_rule(draw) -> tuple[str, str]:
    rule = draw(st.sampled_from(("full", "radius", "knn", "ball")))
    if rule == "radius":
        return rule, f"radius({draw(st.sampled_from(('1.0', '2.0')))})"
    if rule == "ball":
        return rule, f"ball({draw(st.sampled_from(('1.0', '2.0')))}, {draw(st.integers(1, 3))})"
    if rule == "knn":
        return rule, f"knn({draw(st.integers(1, 3))})"
    return rule, "full"


def euclidean(draw) -> Family:
    """E(n) / SE(n) / O(n) / SO(n) x S(nodes) point clouds (n = 1, 2, 3): scalars, points,
    vectors (and pseudo-atoms in 3-D), EGNN-style message passing."""
    group = draw(st.sampled_from(("E", "SE", "O", "SO")))
    n = draw(st.sampled_from((3, 3, 2, 1)))
    rule, edges = _edge_rule(draw)
    atoms = ["scalar", "vector"] + (["pseudoscalar", "pseudovector"] if n == 3 else [])
    if n == 1 or group in ("SO", "SE"):
        atoms = [a for a in atoms if not a.startswith("pseudo")] if n == 1 else atoms
    inputs = {
        "h": scalars(draw(st.integers(1, 3)), "nodes"),
        "x": Ty(((1, f"point({n})"),), "nodes"),
    }
    if draw(st.booleans()):
        inputs["v"] = _irreps(draw, tuple(a for a in atoms if a != "scalar")).on("nodes")
    templates = [*GEOMETRIC, *EDGES, t.pool, t.relative_position, t.move_points, t.attention]
    templates += [t.frames, t.canonical]
    return Family(
        "euclidean",
        f"{group}({n}) x S(nodes)",
        f"pointcloud(nodes, dim={n}, edges={edges})",
        n,
        "nodes",
        inputs,
        templates,
        positions="x",
        edges=True,
        rotations=True,
        parity=group in ("E", "O"),
        info={
            "kind": "orth",
            "translations": group in ("E", "SE"),
            "edge_rule": rule,
            "atoms": atoms,
            **_ties(draw, rule),
        },
    )


def o3_irreps(draw) -> Family:
    """O(3) / SO(3) / E(3) x S(nodes) on irreps: harmonics, radial bases, tensor products,
    NequIP convolutions, MACE's symmetric contractions, gates, norm activations and layer
    norms."""
    group = draw(st.sampled_from(("O(3)", "SO(3)", "E(3)", "SE(3)")))
    rule, edges = _edge_rule(draw)
    atoms = ("0e", "1o", "1e", "2e", "0o", "2o")
    inputs = {"h": _irreps(draw, atoms).on("nodes"), "x": Ty(((1, "point(3)"),), "nodes")}
    templates = [
        *GEOMETRIC,
        *EDGES,
        t.pool,
        t.relative_position,
        t.harmonics,
        t.radial,
        t.tensor_product,
        t.tp_conv,
        t.tp_conv,
        t.tp_conv,
        t.harmonics,
        t.so2_conv,
        t.so2_conv,
        t.head_scale,
        t.symmetric_contraction,
        t.symmetric_contraction,
    ]
    return Family(
        "o3_irreps",
        f"{group} x S(nodes)",
        f"pointcloud(nodes, dim=3, edges={edges})",
        3,
        "nodes",
        inputs,
        templates,
        positions="x",
        edges=True,
        rotations=True,
        parity=group in ("O(3)", "E(3)"),
        info={
            "kind": "orth",
            "translations": group.startswith(("E", "SE")),
            "edge_rule": rule,
            "atoms": atoms,
            **_ties(draw, rule),
        },
    )


def sets(draw) -> Family:
    """S(set) on a set: Deep Sets layers, pooling, broadcasting pooled values back."""
    inputs = {"x": scalars(draw(st.integers(1, 3)), "set")}
    tags = ()
    if draw(st.booleans()):
        inputs["g"] = scalars(draw(st.integers(1, 2)))
        tags = ("global_input",)
    return Family(
        "sets",
        "S(set)",
        "set(set)",
        0,
        "set",
        inputs,
        [*CORE, t.pool, t.pool],
        info={"kind": "perm", "tags": tags},
    )


def graphs(draw) -> Family:
    """S(nodes) on a graph with given edges: GCN-style messages and the hyperbolic / unit-sphere
    layers (Lorentz, Poincaré, normalize)."""
    inputs = {"x": scalars(draw(st.integers(1, 3)), "nodes")}
    empty = draw(st.integers(0, 4)) == 0  # no edge at all in any graph of the batch
    manifold = [
        ft.to_manifold,
        ft.manifold_layer,
        ft.manifold_readout,
        ft.manifold_mix,
        t.normalising,
    ]
    return Family(
        "graphs",
        "S(nodes)",
        "graph(nodes)",
        0,
        "nodes",
        inputs,
        [*CORE, *EDGES, *EDGES, t.pool, *manifold, *manifold, *manifold],
        edges=True,
        info={"kind": "perm", "empty_edges": empty, "tags": ("empty_edges",) if empty else ()},
    )


def hyperbolic(draw) -> Family:
    """S(nodes) on a graph, or S(set) on a set, starting on a manifold: Lorentz and Poincaré
    layers, centroids, Möbius addition, readouts (HGCN, HNN)."""
    on_graph = draw(st.booleans())
    axis = "nodes" if on_graph else "set"
    inputs = {"x": scalars(draw(st.integers(1, 3)), axis)}
    templates = [ft.manifold_layer, ft.manifold_readout, ft.manifold_mix, ft.to_manifold, t.linear]
    return Family(
        "hyperbolic",
        f"S({axis})",
        "graph(nodes)" if on_graph else "set(set)",
        0,
        axis,
        inputs,
        templates + ([t.gather, t.message] if on_graph else [t.pool]),
        edges=on_graph,
        info={"kind": "perm", "prelude": (ft.to_manifold, ft.to_manifold)},
    )


def torus(draw) -> Family:
    """T(d) on a torus (d = 1, 2): pointwise layers, Fourier layers, pooling over the grid."""
    d = draw(st.sampled_from((1, 2, 2)))
    grid = tuple(draw(st.sampled_from((4, 5, 6))) for _ in range(d))
    inputs = {"a": scalars(draw(st.integers(1, 3)), "torus")}
    return Family(
        "torus",
        f"T({d})",
        f"torus({', '.join(map(str, grid))})",
        0,
        "torus",
        inputs,
        [*CORE, ft.spectral_conv, ft.spectral_conv, ft.fourier_layer, t.pool],
        field="torus",
        grid=grid,
        info={"kind": "grid", "shifts": True},
    )


def poincare_grid(draw) -> Family:
    """T(d) on a torus whose fields carry Poincaré points (Poincaré ResNet): convolutions,
    midpoint batch norm, Möbius addition, midpoints over the grid, readouts."""
    d = draw(st.sampled_from((1, 2, 2)))
    grid = tuple(draw(st.sampled_from((4, 5, 6))) for _ in range(d))
    inputs = {"a": scalars(draw(st.integers(1, 3)), "torus")}
    steps = [ft.poincare_grid_step] * 3
    return Family(
        "poincare_grid",
        f"T({d})",
        f"torus({', '.join(map(str, grid))})",
        0,
        "torus",
        inputs,
        [*steps, ft.to_ball, ft.manifold_readout, ft.manifold_mix, ft.manifold_layer],
        field="torus",
        grid=grid,
        info={"kind": "grid", "shifts": True, "prelude": (ft.to_ball,)},
    )


def wallpaper(draw) -> Family:
    """C(4) / D(4) (p4, p4m with T(2)) on a square torus, C(2) / D(2) / C(1) / D(1) on any 2-D
    torus: group convolutions on `regular` fields, pointwise layers, pooling."""
    order = draw(st.sampled_from((4, 4, 2, 1)))
    dihedral = draw(st.booleans())
    shifts = draw(st.booleans())
    factor = f"{'D' if dihedral else 'C'}({order})"
    side = draw(st.sampled_from((3, 4, 5)))
    grid = (side, side) if order == 4 else (side, draw(st.sampled_from((3, 4, 5))))
    inputs = {"a": scalars(draw(st.integers(1, 2)), "torus")}
    templates = [
        *CORE,
        ft.lift_conv,
        ft.lift_conv,
        ft.group_conv,
        ft.group_pool,
        t.pool,
        ft.spectral_conv,
    ]
    return Family(
        "wallpaper",
        f"T(2) x {factor}" if shifts else factor,
        f"torus({grid[0]}, {grid[1]})",
        2,
        "torus",
        inputs,
        templates,
        parity=dihedral,
        field="torus",
        grid=grid,
        info={
            "kind": "grid",
            "shifts": shifts,
            "order": order,
            "dihedral": dihedral,
            "grid_turns": order > 1 or dihedral,
            "tags": ("grid_nonsquare",) if grid[0] != grid[1] else (),
        },
    )


def sphere(draw) -> Family:
    """SO(3) / SO(2) on an equiangular or Gauss-Legendre sphere grid: SFNO layers, SHT round
    trips, pointwise layers (checked exactly under polar rotations by whole grid steps)."""
    group = draw(st.sampled_from(("SO(3)", "SO(2)")))
    nlat = draw(st.sampled_from((4, 6, 8)))
    quad = draw(st.sampled_from(("equiangular", "legendre_gauss")))
    inputs = {"u": scalars(draw(st.integers(1, 2)), "sphere")}
    return Family(
        "sphere",
        group,
        f"sphere(nlat={nlat}, nlon={2 * nlat}, grid={quad})",
        3,
        "sphere",
        inputs,
        [*CORE, ft.sfno_conv, ft.sfno_conv, ft.sht_round_trip],
        field="sphere",
        grid=(nlat, 2 * nlat),
        info={"kind": "grid", "polar": True},
    )


def matrix_groups(draw) -> Family:
    """O(n) / SO(n) (n = 2..5), Lorentz(n) and Sp(n), alone or with S(set): vectors and
    2-tensors through the equivariant-basis solver, invariants by `sqnorm` or `mdot`."""
    kind = draw(st.sampled_from(("orth", "orth", "lorentz", "sp")))
    if kind == "orth":
        name = draw(st.sampled_from(("O", "SO")))
        n = draw(st.integers(2, 5))
        group, dim = f"{name}({n})", n
    elif kind == "lorentz":
        n = draw(st.integers(1, 3))
        group, dim = f"Lorentz({n})", n + 1
    else:
        n = draw(st.integers(1, 2))
        group, dim = f"Sp({n})", 2 * n
    on_set = draw(st.booleans())
    axis = "set" if on_set else None
    atoms = ["vector"] + (["tensor(2)"] if dim <= 4 else [])
    inputs = {"p": _irreps(draw, tuple(atoms)).on(axis)}
    if draw(st.booleans()):
        inputs["s"] = scalars(draw(st.integers(1, 2)), axis)
    templates = [*GEOMETRIC, t.dot, t.gate] + ([t.pool] if on_set else [])
    return Family(
        "matrix_groups",
        group + (" x S(set)" if on_set else ""),
        "set(set)" if on_set else None,
        dim,
        axis,
        inputs,
        templates,
        rotations=True,
        parity=kind == "orth" and name == "O",
        info={
            "kind": kind,
            "dot": "mdot" if kind != "orth" or draw(st.booleans()) else "dot",
            "invariant_of": "mdot" if kind != "orth" else "sqnorm",
            "atoms": atoms,
        },
    )


def spd(draw) -> Family:
    """SPD matrices under congruence by O(n) / SO(n): SPDNet's maps and invariants."""
    n = draw(st.integers(2, 4))
    group = draw(st.sampled_from(("O", "SO")))
    inputs = {"x": Ty(((1, f"spd({n})"),))}
    if draw(st.booleans()):
        inputs["v"] = Ty(((1, "vector"),))
    return Family(
        "spd",
        f"{group}({n})",
        None,
        n,
        None,
        inputs,
        [ft.spd_step, ft.spd_step, ft.spd_step, t.mlp, t.linear, t.norm, t.concat, t.add],
        rotations=True,
        parity=group == "O",
        info={"kind": "orth", "atoms": ["vector"]},
    )


# The brief's five, the planes, Cl(2, 2) (an even pseudoscalar) and the line.
SIGNATURES = (
    (3, 0),
    (1, 3),
    (2, 1),
    (1, 2),
    (0, 3),
    (3, 0),
    (1, 3),
    (2, 0),
    (1, 1),
    (0, 2),
    (2, 2),
    (1, 0),
)


def clifford(draw) -> Family:
    """O(p, q) / SO(p, q) / SO+(p, q) on Cl(p, q) (and O(n) / SO(n) / E(n) / SE(n) on
    Cl(n, 0)), alone or with S(set): CGENN / GLGENN chains of the Clifford operators
    (docs/clifford.md)."""
    p, q = draw(st.sampled_from(SIGNATURES))
    name = draw(st.sampled_from(("O", "SO", "SO+")))
    if q == 0 and p > 1 and draw(st.booleans()):  # Cl(n, 0) under the Euclidean groups
        euclid = draw(st.sampled_from(("O", "SO", "E", "SE")))
        group, kind, parity = f"{euclid}({p})", "orth", euclid in ("O", "E")
    else:
        group, kind, parity = f"{name}({p}, {q})", "indefinite", name == "O"
    cloud = group[0] in "ES" and group[1] != "O" and draw(st.booleans())  # E(n) / SE(n)
    axis = "nodes" if cloud else ("set" if draw(st.booleans()) else None)
    sig, tags = (p, q), ()
    if draw(st.integers(0, 19)) == 0:  # risky: another signature's algebra (GEO330)
        sig, tags = draw(st.sampled_from(SIGNATURES)), ("mv_foreign",)
    inputs = {"x": Ty(((draw(st.integers(1, 2)), f"multivector({sig[0]}, {sig[1]})"),), axis)}
    if draw(st.booleans()):
        inputs["v"] = Ty(((draw(st.integers(1, 2)), "vector"),), axis)
    if draw(st.booleans()):
        inputs["s"] = scalars(draw(st.integers(1, 2)), axis)
    if kind == "orth" and p == 3 and draw(st.booleans()):  # O(3)'s pseudo-atoms next to Cl(3, 0)
        inputs["ps"], inputs["pv"] = Ty(((1, "pseudoscalar"),), axis), Ty(((1, "pseudovector"),))
    edges = {}
    if cloud:  # CGENN on a point cloud: relative positions embedded, messages over edges
        rule, edges = _edge_rule(draw)
        inputs["pos"] = Ty(((1, f"point({p})"),), axis)
        edges = {"edge_rule": rule, "translations": True, "domain": edges}
    templates = [
        clt.product,
        clt.product,
        clt.weighted_product,
        clt.grade,
        clt.reverse,
        clt.mv_linear,
    ]
    templates += [clt.mv_linear, clt.gate_or_norm, clt.embed, clt.vector_part, clt.scalar_part]
    templates += [clt.solver_linear, clt.euclidean_on_mv, clt.pseudo_scale, t.add, t.scale]
    templates += [t.concat, t.negate, t.linear, t.gate, t.normalising, t.norm, t.dot, t.act]
    templates += [t.pool] if axis else []
    templates += [*EDGES, t.relative_position, clt.centred] if cloud else []
    domain = f"pointcloud(nodes, dim={p}, edges={edges['domain']})" if cloud else "set(set)"
    return Family(
        "clifford",
        group + (f" x S({axis})" if axis else ""),
        domain if axis else None,
        p + q,
        axis,
        inputs,
        templates,
        positions="pos" if cloud else None,
        edges=cloud,
        rotations=True,
        parity=parity,
        info={
            "kind": kind,
            "signature": (p, q),
            "group_family": name,
            "atoms": ["vector", f"multivector({p}, {q})"],
            "invariant_of": "sqnorm",
            "tags": (*tags, "indefinite" if p and q else "definite"),
            **{k: v for k, v in edges.items() if k != "domain"},
        },
    )


FAMILIES: dict[str, Callable] = {
    f.__name__: f
    for f in (
        euclidean,
        o3_irreps,
        sets,
        graphs,
        hyperbolic,
        torus,
        poincare_grid,
        wallpaper,
        sphere,
        matrix_groups,
        spd,
        clifford,
        weights,
        ct.cartesian,
    )
}


@st.composite
def specs(draw, families: tuple[str, ...] = tuple(FAMILIES)) -> Spec:
    family = FAMILIES[draw(st.sampled_from(families))](draw)
    return grow(draw, family)

"""The Cartesian-tensor family (docs/cartesian.md): `tensor(k)` values of R^n under O(n) /
SO(n) (n = 2..4), alone or with `S(set)`: outer products, contractions, traces, the three
parts of a `tensor(2)`, the Levi-Civita maps of R^3, plus the core and the norms. Risky on
purpose: `axial` / `skew` under reflections (GEO494), a pseudovector under O(3) as a
Cartesian vector (GEO224), mixed orders in one operand (GEO226), and the generic risky
templates (an activation on tensors, a Schur-forbidden `linear` into `tensor(2)`)."""

from __future__ import annotations

import spec_templates as t
from hypothesis import strategies as st
from spec_grammar import Family, Gen, Ty, scalars
from spec_templates import Made

MAX_ORDER = 3
DOMAINS = {"set": "set(set)", "nodes": "pointcloud(nodes, dim={n}, edges=full)"}


def _order(gen: Gen, atom: str) -> int | None:
    """k where the family's elements act on ``atom`` as on `tensor(k)`."""
    proper = not gen.family.parity
    if atom in ("vector", "1o") or (atom in ("pseudovector", "1e") and proper):
        return 1
    if atom.startswith("unit("):
        return 1
    if atom.startswith("point("):  # a vector where no translation acts (GEO404 otherwise)
        return None if gen.family.info.get("translations") else 1
    if atom.startswith("tensor("):
        return int(atom[len("tensor(") :].rstrip(")"))
    return None


def _orders(gen: Gen, ty: Ty) -> set:
    return {_order(gen, a) for a in ty.atoms}


def _tensor(gen: Gen, ty: Ty, k: int | None = None) -> bool:
    """One Cartesian order in every copy (``k``: that one)."""
    found = _orders(gen, ty)
    return len(found) == 1 and None not in found and (k is None or found == {k})


def _rarely(gen: Gen, odds: int) -> bool:
    """True about once in ``odds`` draws (hypothesis shrinks integers towards 0, so the risky
    branch stays rare even where it favours small floats in ``coin``)."""
    return gen.integer(0, odds - 1) == odds - 1


def _risky_operand(gen: Gen, strict) -> tuple[str, Ty] | None:
    """Now and then any non-scalar operand (a pseudovector under O(3), mixed orders)."""
    if _rarely(gen, 12):
        loose = gen.pick(lambda ty: gen.plain(ty) and not gen.invariant(ty))
        if loose is not None and not strict(loose[1]):
            gen.tags.add("cartesian_bad_operand")
            return loose
    return gen.pick(strict)


def _atom(k: int) -> str:
    return "vector" if k == 1 else f"tensor({k})"


def outer(gen: Gen) -> Made:
    a = _risky_operand(gen, lambda ty: _tensor(gen, ty))
    if gen.family.info.get("translations") and _rarely(gen, 8):  # risky: a point, GEO404
        a = gen.pick(lambda ty: ty.atoms[0].startswith("point(")) or a
        gen.tags.add("cartesian_point_translations")
    if a is None:
        return None
    ka = max((o or 1) for o in _orders(gen, a[1]))
    b = gen.pick(
        lambda ty: (
            _tensor(gen, ty)
            and ty.copies == a[1].copies
            and gen.axes_ok(ty, a[1])
            and ka + max(_orders(gen, ty)) <= MAX_ORDER
        )
    )
    if b is None:
        return None
    k = ka + max(_orders(gen, b[1]))
    return f"outer({a[0]}, {b[0]})", Ty(((a[1].copies, _atom(k)),), a[1].axis or b[1].axis)


def contract(gen: Gen) -> Made:
    tt = gen.pick(lambda ty: _tensor(gen, ty) and max(_orders(gen, ty)) >= 2)
    if tt is None:
        return None
    v = gen.pick(
        lambda ty: _tensor(gen, ty, 1) and ty.copies == tt[1].copies and gen.axes_ok(ty, tt[1])
    )
    if v is None:
        return None
    k = max(_orders(gen, tt[1])) - 1
    return f"contract({tt[0]}, {v[0]})", Ty(((tt[1].copies, _atom(k)),), tt[1].axis or v[1].axis)


def part(gen: Gen) -> Made:
    x = _risky_operand(gen, lambda ty: _tensor(gen, ty, 2))
    if x is None:
        return None
    op = gen.choice(("trace", "sym_part", "antisym_part", "trace_part"))
    if op == "trace":
        return f"trace({x[0]})", scalars(x[1].copies, x[1].axis)
    return f"{op}({x[0]})", Ty(((x[1].copies, "tensor(2)"),), x[1].axis)


def levi_civita(gen: Gen) -> Made:
    """`axial` / `skew`: proper rotations of R^3 only (GEO494 under reflections)."""
    if gen.family.n != 3 and not _rarely(gen, 12):  # risky elsewhere: GEO227
        return None
    if gen.family.parity and not _rarely(gen, 3):  # risky under reflections: GEO494
        return None
    if gen.coin():
        x = gen.pick(lambda ty: _tensor(gen, ty, 2))
        made = None if x is None else (f"axial({x[0]})", Ty(((x[1].copies, "vector"),), x[1].axis))
    else:
        x = gen.pick(lambda ty: _tensor(gen, ty, 1))
        made = (
            None if x is None else (f"skew({x[0]})", Ty(((x[1].copies, "tensor(2)"),), x[1].axis))
        )
    if made is not None and gen.family.parity:
        gen.tags.add("levi_civita_reflections")
    return made


def _group(draw) -> tuple[str, int, str, bool]:
    """(name, n, kind, parity): O(n) / SO(n) mostly, Lorentz(n) and Sp(n) sometimes (only
    `outer` and `antisym_part` take their tensors; GEO420 for the rest)."""
    kind = draw(st.sampled_from(("orth", "orth", "orth", "lorentz", "sp")))
    if kind == "lorentz":
        n = draw(st.integers(1, 3))
        return f"Lorentz({n})", n + 1, kind, False
    if kind == "sp":
        n = draw(st.integers(1, 2))
        return f"Sp({n})", 2 * n, kind, False
    name = draw(st.sampled_from(("O", "SO")))
    n = draw(st.sampled_from((3, 3, 2, 4)))
    return f"{name}({n})", n, kind, name == "O"


def cartesian(draw) -> Family:
    """O(n) / SO(n) on Cartesian tensors of R^n (n = 2, 3, 4), Lorentz(n), Sp(n), alone or
    with S(set); O(n) / SO(n) / E(n) / SE(n) x S(nodes) on a point cloud (points are vectors
    only where no translation acts; edge vectors `x[dst] - x[src]`, gathers, scatters); in R^3
    also `1o` / `1e` / `pseudovector` and `unit(3)` inputs."""
    group, n, kind, parity = _group(draw)
    axis = draw(st.sampled_from((None, "set", "nodes"))) if kind == "orth" else None
    axis = axis or (draw(st.sampled_from((None, "set"))) if kind != "orth" else None)
    cloud = axis == "nodes"
    shifts = cloud and draw(st.booleans())
    if shifts:  # E(n) / SE(n): points translate, their differences are vectors
        group = ("E" if parity else "SE") + group[len("O" if parity else "SO") :]
    inputs = {"x": Ty(((1, f"point({n})"),), axis)} if cloud else {}
    inputs["v"] = Ty(((draw(st.integers(1, 2)), "vector"),), axis)
    if draw(st.booleans()):
        inputs["t"] = Ty(((draw(st.integers(1, 2)), "tensor(2)"),), axis)
    if n == 3 and kind == "orth" and draw(st.integers(0, 2)) == 2:
        inputs["p"] = Ty(((1, draw(st.sampled_from(("pseudovector", "1o", "1e")))),), axis)
    if kind == "orth" and draw(st.integers(0, 3)) == 3:
        inputs["u"] = Ty(((1, f"unit({n})"),), axis)
    if draw(st.integers(0, 2)) == 2:
        inputs["s"] = scalars(draw(st.integers(1, 2)), axis)
    templates = [t.linear, t.act, t.mlp, t.add, t.scale, t.negate, t.concat, t.norm, t.dot]
    templates += [outer, outer, outer, contract, contract, part, part, part, levi_civita]
    templates += [levi_civita] + ([t.pool] if axis else [])
    if cloud:
        templates += [t.relative_position, t.relative_position, t.scatter, t.gather]
    atoms = ["vector", "tensor(2)"] + (["pseudovector"] if n == 3 and kind == "orth" else [])
    return Family(
        "cartesian",
        group + (f" x S({axis})" if axis else ""),
        DOMAINS[axis].format(n=n) if axis else None,
        n,
        axis,
        inputs,
        templates,
        positions="x" if cloud else None,
        edges=cloud,
        rotations=True,
        parity=parity,
        info={
            "kind": kind,
            "atoms": atoms,
            "dot": "dot" if kind == "orth" else "mdot",
            "translations": shifts,
            "tags": ("translations",) * shifts,
        },
    )

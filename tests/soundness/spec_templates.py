"""Operator templates: each picks operands from the pool and returns ``(expression, type)``
by the typing algebra of docs/operators.md, or None when the pool has no operand for it.
Templates marked *risky* write constructs whose static verdict the fuzzer does not predict."""

from __future__ import annotations

from spec_grammar import ACTIVATIONS, ODD, Gen, Ty, irrep_of, is_point, scalars

Made = tuple[str, Ty] | None


def _distinct(atoms) -> list[str]:
    return list(dict.fromkeys(atoms))


def _rotating(gen: Gen, ty: Ty) -> bool:
    return gen.plain(ty) and not gen.invariant(ty)


# ---------------------------------------------------------------------------- core algebra


def linear(gen: Gen) -> Made:
    picked = gen.pick(gen.plain)
    if picked is None:
        return None
    name, ty = picked
    atoms = _distinct(ty.atoms)
    chosen = [a for a in atoms if gen.coin(0.6)] or [gen.choice(atoms)]
    spare = [a for a in gen.family.info.get("atoms", ()) if a not in atoms]
    if spare and gen.coin(0.08):  # risky: an atom Schur may forbid (scalars -> vectors)
        gen.tags.add("linear_new_atom")
        chosen.append(gen.choice(spare))
    out = Ty(tuple((gen.integer(1, 3), a) for a in chosen))
    bias = ", bias=false" if gen.coin(0.2) else ""
    return f"linear({name}, {out.text()}{bias})", out.on(ty.axis)


def act(gen: Gen) -> Made:
    risky = gen.coin(0.1)
    picked = gen.pick((lambda t: _rotating(gen, t)) if risky else gen.invariant)
    if picked is None or (not risky and not gen.plain(picked[1])):
        return None
    if risky:
        gen.tags.add("act_rotating")
    gen.tags.add("pointwise_nonlinear")
    fn = gen.choice(ODD if risky and gen.coin() else ACTIVATIONS)
    return f"act({picked[0]}, {fn})", picked[1]


def mlp(gen: Gen) -> Made:
    risky = gen.coin(0.08)
    picked = gen.pick((lambda t: _rotating(gen, t)) if risky else gen.invariant)
    if picked is None or not gen.plain(picked[1]):
        return None
    if risky:
        gen.tags.add("mlp_rotating")
    gen.tags.add("pointwise_nonlinear")
    hidden, out = gen.integer(1, 4), gen.integer(1, 3)
    last = ", last_act=true" if gen.coin(0.3) else ""
    fn = gen.choice(ACTIVATIONS)
    return f"mlp({picked[0]}, [{hidden}, {out}], act={fn}{last})", scalars(out, picked[1].axis)


def norm(gen: Gen) -> Made:
    picked = gen.pick(lambda t: gen.plain(t) and (not gen.family.field))
    if picked is None:
        return None
    if gen.family.info.get("kind") in ("lorentz", "sp") and not gen.invariant(picked[1]):
        gen.tags.add("norm_indefinite")
    op = gen.choice(("norm", "sqnorm"))
    return f"{op}({picked[0]})", scalars(picked[1].copies, picked[1].axis)


def dot(gen: Gen) -> Made:
    a = gen.pick(lambda t: gen.plain(t) and not gen.family.field)
    if a is None:
        return None
    b = gen.pick(lambda t: t.terms == a[1].terms and gen.axes_ok(t, a[1]))
    op = gen.family.info.get("dot", "dot")
    if op == "dot" and gen.family.info.get("kind") in ("lorentz", "sp"):
        gen.tags.add("norm_indefinite")
    return f"{op}({a[0]}, {b[0]})", scalars(a[1].copies, a[1].axis or b[1].axis)


def add(gen: Gen) -> Made:
    a = gen.pick(gen.plain)
    if a is None:
        return None
    b = gen.pick(lambda t: t.terms == a[1].terms and gen.axes_ok(t, a[1]))
    if a[1].axis != b[1].axis:
        gen.tags.add("pooled_onto_field" if gen.family.field else "broadcast")
    left, right = (a, b) if gen.coin() else (b, a)
    return f"{left[0]} {gen.choice('+-')} {right[0]}", a[1].on(a[1].axis or b[1].axis)


def scale(gen: Gen) -> Made:
    v = gen.pick(gen.plain)
    if v is None:
        return None
    if gen.coin(0.3):
        gen.tags.add("literal_scale")
        factor = gen.choice(("0.5", "-0.5", "2", "-1.5 * 2"))
        return f"{factor} * {v[0]}", v[1]
    s = gen.pick(
        lambda t: (
            gen.invariant(t)
            and gen.plain(t)
            and t.copies in (1, v[1].copies)
            and gen.axes_ok(t, v[1])
        )
    )
    if s is None:
        return None
    if s[1].axis != v[1].axis:
        gen.tags.add("pooled_onto_field" if gen.family.field else "broadcast")
    gen.tags.add("pointwise_nonlinear")  # a product of two values
    if "regular" in v[1].atoms:
        gen.tags.add("scale_regular")
    expr = f"{s[0]} * {v[0]}" if gen.coin() else f"{v[0]} * {s[0]}"
    return expr, v[1].on(v[1].axis or s[1].axis)


def negate(gen: Gen) -> Made:
    v = gen.pick(gen.plain)
    return None if v is None else (f"-{v[0]}", v[1])


def concat(gen: Gen) -> Made:
    a = gen.pick(gen.plain)
    if a is None:
        return None
    b = gen.pick(lambda t: gen.plain(t) and t.axis == a[1].axis)
    return f"concat({a[0]}, {b[0]})", a[1].plus(b[1])


# ---------------------------------------------------------------------------- axes and edges


def gather(gen: Gen) -> Made:
    axis = gen.family.axis
    v = gen.pick(lambda t: t.axis == axis)
    if v is None:
        return None
    return f"{v[0]}[{gen.choice(('src', 'dst'))}]", v[1].on("edges")


def scatter(gen: Gen) -> Made:
    v = gen.pick(lambda t: t.axis == "edges" and gen.plain(t))
    if v is None:
        return None
    ops = ["sum", "mean"] + (["max"] if gen.invariant(v[1]) else [])
    if not gen.invariant(v[1]) and gen.coin(0.1):
        gen.tags.add("max_rotating")
        ops = ["max"]
    return f"{gen.choice(ops)}({v[0]}, over=edges, into={gen.family.axis})", v[1].on(
        gen.family.axis
    )


def message(gen: Gen) -> Made:
    """One message-passing step: neighbours' values (or, on a point cloud, relative positions
    weighted by an invariant of their length) summed or averaged into each node."""
    axis, pos = gen.family.axis, gen.family.positions
    reduce = gen.choice(("sum", "mean"))
    if pos and gen.coin():
        r = f"({pos}[dst] - {pos}[src])"
        weight = f"mlp(sqnorm({r}), [{gen.integer(1, 3)}, 1])"
        return f"{reduce}({r} * {weight}, over=edges, into={axis})", Ty(((1, "vector"),), axis)
    v = gen.pick(lambda t: t.axis == axis and gen.plain(t))
    if v is None:
        return None
    side = gen.choice(("src", "dst"))
    return f"{reduce}({v[0]}[{side}], over=edges, into={axis})", v[1]


def sheaf(gen: Gen) -> Made:
    """A sheaf diffusion step of a value over the nodes, with maps from both ends of each edge
    (risky: maps of transforming channels, which must be GEO433)."""
    axis = gen.family.axis
    v = gen.pick(lambda t: t.axis == axis and gen.plain(t))
    if v is None:
        return None
    if not gen.invariant(v[1]):
        gen.tags.add("sheaf_rotating")
        return f"restriction_maps({v[0]}[dst], {v[0]}[src], d=2, kind=diag)", scalars(4, "edges")
    kind = gen.choice(("diag", "orthogonal"))
    dims = [d for d in range(1 if kind == "diag" else 2, 4) if v[1].copies % d == 0]
    if not dims:
        return None
    d = gen.choice(dims)
    maps = f"restriction_maps({v[0]}[dst], {v[0]}[src], d={d}, kind={kind})"
    return f"sheaf_diffusion({v[0]}, {maps}, d={d}, kind={kind})", v[1]


def pool(gen: Gen) -> Made:
    """Pool the family's axis away (nodes, a set, a torus grid)."""
    axis = gen.family.axis
    v = gen.pick(lambda t: t.axis == axis and (gen.plain(t) or t.atoms[0].startswith("point")))
    if v is None:
        return None
    if any(is_point(a) for a in v[1].atoms):
        op = "mean"
        if gen.coin(0.15):
            gen.tags.add("sum_point")
            op = "sum"
    else:
        ops = ["sum", "mean"] + (["max"] if gen.invariant(v[1]) or _only_regular(v[1]) else [])
        if not gen.invariant(v[1]) and gen.coin(0.15):
            gen.tags.add("max_rotating")
            ops = ["max"]
        op = gen.choice(ops)
    return f"{op}({v[0]}, over={axis})", v[1].on(None)


def attention(gen: Gen) -> Made:
    """Attention of a value of any type (points too) with scores from one invariant: all to
    all along the axis, or along the edges into each node (maybe windowed by distance);
    or pooled with one or two seeds."""
    axis = gen.family.axis
    s = gen.pick(lambda t: t.axis == axis and gen.plain(t) and gen.invariant(t))
    v = gen.pick(lambda t: t.axis == axis and (gen.plain(t) or is_point(t.atoms[0])))
    if s is None or v is None:
        return None
    if gen.coin(0.3):
        seeds = gen.integer(1, 2) if len(v[1].terms) == 1 else 1
        (mul, atom), *more = v[1].terms
        ty = Ty(((mul * seeds, atom), *more))
        return f"attention_pool({s[0]}, {v[0]}, over={axis}, seeds={seeds})", ty
    over = "edges" if gen.family.edges and gen.coin() else axis
    window = ", window=1.5" if over == "edges" and gen.family.positions and gen.coin() else ""
    return f"attention({s[0]}, {s[0]}, {v[0]}, over={over}{window})", v[1].on(axis)


def _only_regular(ty: Ty) -> bool:
    return all(a in ("scalar", "regular") for a in ty.atoms)


def relative_position(gen: Gen) -> Made:
    pos = gen.family.positions
    return f"{pos}[dst] - {pos}[src]", Ty(((1, "vector"),), "edges")


def move_points(gen: Gen) -> Made:
    """``x + v``: a point plus one vector per node is a point."""
    p = gen.pick(lambda t: len(t.terms) == 1 and is_point(t.atoms[0]) and t.axis)
    v = gen.pick(lambda t: t.terms == ((1, "vector"),) and t.axis == gen.family.axis)
    if p is None or v is None:
        return None
    return f"{p[0]} {gen.choice('+-')} {v[0]}", p[1]


def frames(gen: Gen) -> Made:
    """``to_frame(x, frame(a, b, ...))``: the coordinates of a plain value in a frame built
    from n vectors, or n-1 and the cross product (risky: GEO460 under reflections)."""
    n = gen.family.n
    picked = [gen.pick(lambda t: t.terms == ((1, "vector"),)) for _ in range(n)]
    if picked[0] is None:
        return None
    axes = {p[1].axis for p in picked if p and p[1].axis}  # type: ignore[index]
    if len(axes) > 1:
        return None
    axis = axes.pop() if axes else None
    count = n
    if n in (2, 3) and gen.coin(0.15):
        count = n - 1
        gen.tags.add("cross_frame")
    frame = f"frame({', '.join(p[0] for p in picked[:count])})"  # type: ignore[index]
    movable = {"scalar", "vector", "pseudoscalar", "pseudovector"}
    x = gen.pick(lambda t: gen.plain(t) and set(t.atoms) <= movable and axis in (None, t.axis))
    if x is None:
        return None
    gen.tags.add("frame")
    size = sum(m * (n if a.endswith("vector") else 1) for m, a in x[1].terms)
    return f"to_frame({x[0]}, {frame})", scalars(size, x[1].axis or axis)


def canonical(gen: Gen) -> Made:
    """``canonical { v = act(linear(y, k x vector), fn) }``: any map of invariants, typed
    without the rotations (risky: a rotating value read inside is GEO461)."""
    risky = gen.coin(0.1)
    picked = gen.pick(
        (lambda t: _rotating(gen, t)) if risky else (lambda t: gen.invariant(t) and gen.plain(t))
    )
    if picked is None:
        return None
    gen.tags.add("canonical_rotating" if risky else "canonical")
    name, ty = picked
    k, out, fn = gen.integer(1, 2), f"v{len(gen.lines)}", gen.choice(ACTIVATIONS)
    body = f"        {out} = act(linear({name}, {k} x vector), {fn})"
    gen.lines.append(f"    canonical {{\n{body}\n    }}")
    gen.pool.append((out, scalars(k * gen.family.n, ty.axis)))
    return None  # bound above: a body, not one statement


def gate(gen: Gen) -> Made:
    """``gate(concat(gates, v))`` with one gating scalar per non-scalar copy of ``v``."""
    v = gen.pick(lambda t: gen.plain(t) and all(not gen.invariant(Ty(((1, a),))) for a in t.atoms))
    if v is None:
        return None
    name, ty = v
    inv = gen.family.info.get("invariant_of", "sqnorm")
    gates = f"{inv}({name}, {name})" if inv == "mdot" else f"{inv}({name})"
    if gen.coin(0.5):
        gates = f"linear({gates}, {ty.copies} x scalar)"
    return f"gate(concat({gates}, {name}))", scalars(ty.copies, ty.axis).plus(ty)


def normalising(gen: Gen) -> Made:
    """``norm_act`` / ``layer_norm``: same type (risky under Lorentz / Sp, on unit vectors)."""
    v = gen.pick(lambda t: gen.plain(t) or t.atoms[0].startswith("unit"))
    if v is None:
        return None
    op = gen.choice(("norm_act", "layer_norm", "layer_norm"))
    if op == "layer_norm" and gen.coin():
        gen.tags.add("layer_norm_separable")
        return f"layer_norm({v[0]}, norm=separable)", v[1]
    if gen.family.info.get("kind") in ("lorentz", "sp") and not gen.invariant(v[1]):
        gen.tags.add("norm_indefinite")
    if v[1].atoms[0].startswith("unit"):
        gen.tags.add("normalising_unit")
    if v[1].axis == "edges":
        gen.tags.add("normalising_on_edges")
    return f"{op}({v[0]})", v[1]


def head_scale(gen: Gen) -> Made:
    """``head_scale(a, v)``: ``v`` mapped by ``linear`` to one term per atom with a multiple of
    ``H`` copies (the fuzzer's types merge equal neighbours, geoc's do not), weighed by ``H``
    invariants; risky: weights that rotate (``GEO401`` expected, never an accept)."""
    picked = gen.pick(lambda t: gen.plain(t) and t.axis is not None)
    if picked is None:
        return None
    name, ty = picked
    heads, k = gen.integer(1, 3), gen.integer(1, 2)
    inv = gen.family.info.get("invariant_of", "sqnorm")
    weights = f"{inv}({name}, {name})" if inv == "mdot" else f"{inv}({name})"
    weights = f"linear({weights}, {heads} x scalar)"
    if any(not gen.invariant(Ty(((1, a),))) for a in ty.atoms) and gen.coin(0.1):
        gen.tags.add("head_scale_rotating")
        weights, heads = name, ty.copies
    value = Ty(tuple((heads * k, atom) for atom in _distinct(ty.atoms)), ty.axis)
    return f"head_scale({weights}, linear({name}, {Ty(value.terms).text()}))", value


# ---------------------------------------------------------------------------- O(3) irreps


def harmonics(gen: Gen) -> Made:
    v = gen.pick(lambda t: t.terms in (((1, "vector"),), ((1, "1o"),), ((1, "pseudovector"),)))
    if v is None:
        return None
    lmax = gen.integer(0, 2)
    terms = _harmonic_terms(lmax, even=v[1].atoms[0] == "pseudovector")
    return f"spherical_harmonics({v[0]}, lmax={lmax})", Ty(terms, v[1].axis)


def _harmonic_terms(lmax: int, even: bool) -> tuple[tuple[int, str], ...]:
    """``0e + 1o + 2e + ...`` (all even for a pseudovector)."""
    return tuple((1, f"{d}{'e' if even or d % 2 == 0 else 'o'}") for d in range(lmax + 1))


def radial(gen: Gen) -> Made:
    v = gen.pick(lambda t: t.terms == ((1, "vector"),) and t.axis == "edges")
    if v is None:
        return None
    n, cutoff = gen.integer(1, 4), gen.choice(("1.5", "3.0"))
    return f"radial_basis(norm({v[0]}), n={n}, cutoff={cutoff})", scalars(n, "edges")


def _products(a: Ty, b: Ty, lmax: int = 2) -> list[str]:
    out = []
    for x, y in ((x, y) for x in a.atoms for y in b.atoms):
        (l1, p1), (l2, p2) = irrep_of(x), irrep_of(y)
        for d in range(abs(l1 - l2), min(l1 + l2, lmax) + 1):
            out.append(f"{d}{'e' if p1 * p2 > 0 else 'o'}")
    return _distinct(out)


def _irreps(gen: Gen, ty: Ty) -> bool:
    return gen.plain(ty) and all(irrep_of(a) is not None for a in ty.atoms)


def _reachable_out(gen: Gen, options: list[str]) -> Ty:
    chosen = [a for a in options if gen.coin(0.5)] or [gen.choice(options)]
    return Ty(tuple((gen.integer(1, 2), a) for a in chosen))


def tensor_product(gen: Gen) -> Made:
    a = gen.pick(lambda t: _irreps(gen, t))
    if a is None:
        return None
    b = gen.pick(lambda t: _irreps(gen, t) and gen.axes_ok(t, a[1]))
    out = _reachable_out(gen, _products(a[1], b[1]))
    return f"tensor_product({a[0]}, {b[0]}, out={out.text()})", out.on(a[1].axis or b[1].axis)


def tp_conv(gen: Gen) -> Made:
    """NequIP's convolution; harmonics and radial weights of the relative positions are
    written inline when the pool has none over edges."""
    h = gen.pick(lambda t: _irreps(gen, t) and t.axis == gen.family.axis)
    if h is None:
        return None
    r = f"({gen.family.positions}[dst] - {gen.family.positions}[src])"
    sh = gen.pick(
        lambda t: _irreps(gen, t) and t.axis == "edges" and all(m == 1 for m, _ in t.terms)
    )
    if sh is None or gen.coin():
        lmax = gen.integer(0, 2)
        sh = (f"spherical_harmonics({r}, lmax={lmax})", Ty(_harmonic_terms(lmax, False), "edges"))
    w = gen.pick(lambda t: gen.invariant(t) and gen.plain(t) and t.axis == "edges")
    if w is None or gen.coin():
        w = (f"radial_basis(norm({r}), n={gen.integer(1, 4)}, cutoff=2.0)", None)
    out = _reachable_out(gen, _products(h[1], sh[1]))
    algorithm = gen.choice(("auto", "cg", "so2"))
    expr = f"tp_conv({h[0]}, {sh[0]}, {w[0]}, out={out.text()}, hidden=4, algorithm={algorithm})"
    return expr, out.on(gen.family.axis)


def so2_conv(gen: Gen) -> Made:
    """eSCN's convolution of ``h[src]`` in the frames of the relative positions; ``out`` holds
    only irreps that some input degree couples to at an order ``m <= mmax`` (parity rule of
    the mirrors through the edge, applied under every group: stricter than needed under
    SO(3))."""
    h = gen.pick(lambda t: _irreps(gen, t) and t.axis == gen.family.axis)
    if h is None:
        return None
    pos = gen.family.positions
    r = f"({pos}[dst] - {pos}[src])"
    w = gen.pick(lambda t: gen.invariant(t) and gen.plain(t) and t.axis == "edges")
    if w is None or gen.coin():
        w = (f"radial_basis(norm({r}), n={gen.integer(1, 4)}, cutoff=2.0)", None)
    ins = [irrep_of(a) for a in h[1].atoms]
    mmax = gen.integer(0, min(1, max(k for k, _ in ins)))
    options = [
        f"{d}{'eo'[p < 0]}"
        for d in range(3)
        for p in (1, -1)
        if any((q * p * (-1) ** (k + d) > 0) or (mmax >= 1 and min(k, d) >= 1) for k, q in ins)
    ]
    out = _reachable_out(gen, options)
    return f"so2_conv({h[0]}[src], {r}, {w[0]}, out={out.text()}, mmax={mmax})", out.on("edges")


def symmetric_contraction(gen: Gen) -> Made:
    """MACE's many-body product, of a linear map of an irreps value to one multiplicity per
    irrep (the fuzzer's types merge equal neighbours, geoc's do not: `linear` says which),
    weighted by an invariant species value; `out` only holds irreps a symmetric product
    reaches."""
    picked = gen.pick(lambda t: _irreps(gen, t) and t.axis)
    if picked is None:
        return None
    k = gen.integer(1, 2)
    a = Ty(tuple((k, atom) for atom in _distinct(picked[1].atoms)), picked[1].axis)
    species = gen.pick(lambda t: gen.invariant(t) and gen.plain(t) and t.axis == a.axis)
    if species is None or gen.coin(0.3):
        species = (f"sqnorm({picked[0]})", None)
    correlation = gen.integer(1, 3)
    options = _symmetric_products(gen, a, correlation)
    if not options:
        return None
    chosen = [x for x in options if gen.coin(0.5)] or [gen.choice(options)]
    out = Ty(tuple((k, atom) for atom in chosen))
    basis = f"linear({picked[0]}, {Ty(a.terms).text()})"
    expr = (
        f"symmetric_contraction({basis}, {species[0]}, out={out.text()}, correlation={correlation})"
    )
    return expr, out.on(a.axis)


def _symmetric_products(gen: Gen, a: Ty, correlation: int) -> list[str]:
    """The irreps up to l = 3 with a symmetric product of ``a`` (parity only with reflections)."""
    from geoc.o3 import symmetric_paths

    def kernel(ir: tuple[int, int]) -> tuple[int, int]:
        return ir if gen.family.parity else (ir[0], 1)

    slots = tuple(kernel(irrep_of(atom)) for atom in a.atoms)
    return [
        f"{degree}{'e' if p > 0 else 'o'}"
        for degree in range(4)
        for p in (1, -1)
        if symmetric_paths(slots, kernel((degree, p)), correlation)
    ]

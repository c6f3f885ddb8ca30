"""Templates of the `clifford` family (docs/clifford.md): chains of the Clifford operators on
``c x multivector(p, q)`` values, their result types by the typing rules of
compiler/ops/clifford.py as documented. *Risky* templates write what geoc should reject
(``dual=true`` under reflections, activations / MLPs / Euclidean norms on multivectors under an
indefinite metric, ``max`` or elementwise products of multivectors, a grade out of range) or
whose verdict is not predicted; each tags the spec."""

from __future__ import annotations

from spec_grammar import ACTIVATIONS, Gen, Ty, scalars

Made = tuple[str, Ty] | None
PSEUDO = ("pseudoscalar", "pseudovector")  # atoms of O(3) / SO(3) / E(3) only


def algebra(gen: Gen) -> str:
    p, q = gen.family.info["signature"]
    return f"multivector({p}, {q})"


def _is_mv(ty: Ty) -> bool:
    return len(ty.terms) == 1 and ty.atoms[0].startswith("multivector")


def _mv(gen: Gen) -> tuple[str, Ty] | None:
    return gen.pick(_is_mv)


def _partner(gen: Gen, ty: Ty) -> tuple[str, Ty]:
    """A second operand of the same algebra and copies (the first one itself at worst)."""
    return gen.pick(lambda t: t.terms == ty.terms and gen.axes_ok(t, ty))


def _n(gen: Gen) -> int:
    return sum(gen.family.info["signature"])


def product(gen: Gen) -> Made:
    a = _mv(gen)
    if a is None:
        return None
    b = _partner(gen, a[1])
    op = gen.choice(("geometric_product", "wedge", "left_contraction"))
    left, right = (a, b) if gen.coin() else (b, a)
    return f"{op}({left[0]}, {right[0]})", a[1].on(a[1].axis or b[1].axis)


def weighted_product(gen: Gen) -> Made:
    a = _mv(gen)
    if a is None:
        return None
    b = _partner(gen, a[1])
    share = gen.choice(("", ", share=mod4", ", share=grade"))
    return f"mv_product({a[0]}, {b[0]}{share})", a[1].on(a[1].axis or b[1].axis)


def grade(gen: Gen) -> Made:
    x = _mv(gen)
    if x is None:
        return None
    k = gen.integer(0, _n(gen))
    if gen.coin(0.02):  # risky: out of range, GEO426
        gen.tags.add("grade_out_of_range")
        k = _n(gen) + 1
    return f"grade({x[0]}, {k})", x[1]


def reverse(gen: Gen) -> Made:
    x = _mv(gen)
    return None if x is None else (f"reverse({x[0]})", x[1])


def mv_linear(gen: Gen) -> Made:
    x = _mv(gen)
    if x is None:
        return None
    out = gen.integer(1, 3)
    opts = ""
    if gen.coin(0.3):
        opts += ", bias=false"
    if gen.coin(0.4):
        opts += f", share={gen.choice(('mod4', 'grade'))}"
    if gen.coin(0.3):
        opts += ", dual=true"
        gen.tags.add("mv_dual")
        if gen.family.parity:
            gen.tags.add("mv_dual_reflections")  # GEO429 expected
    return f"mv_linear({x[0]}, {out}{opts})", Ty(((out, algebra(gen)),), x[1].axis)


def gate_or_norm(gen: Gen) -> Made:
    x = _mv(gen)
    if x is None:
        return None
    gen.tags.add("pointwise_nonlinear")
    if gen.coin():
        return f"mv_gate({x[0]})", x[1]
    eps = gen.choice(("", ", eps=1e-3", ", eps=0.5"))
    return f"mv_norm({x[0]}{eps})", x[1]


def embed(gen: Gen) -> Made:
    """`embed_vector` / `embed_scalar`; of a pseudovector / pseudoscalar (risky: right under
    SO(3), GEO425 under reflections)."""
    if gen.coin():
        v = gen.pick(lambda t: t.atoms in (("vector",), ("pseudovector",)))
        if v is not None:
            _tag_pseudo(gen, v[1])
            return f"embed_vector({v[0]})", Ty(((v[1].copies, algebra(gen)),), v[1].axis)
    s = gen.pick(lambda t: t.atoms in (("scalar",), ("pseudoscalar",)))
    if s is None:
        return None
    _tag_pseudo(gen, s[1])
    return f"embed_scalar({s[0]})", Ty(((s[1].copies, algebra(gen)),), s[1].axis)


def _tag_pseudo(gen: Gen, ty: Ty) -> None:
    if any(a.startswith("pseudo") for a in ty.atoms):
        gen.tags.add("mv_pseudo")


def pseudo_scale(gen: Gen) -> Made:
    """Risky: a multivector times a pseudoscalar (under reflections no multivector: GEO300)."""
    x, s = _mv(gen), gen.pick(lambda t: t.atoms == ("pseudoscalar",) and t.copies == 1)
    if x is None or s is None or not gen.axes_ok(x[1], s[1]):
        return None
    gen.tags.update(("mv_pseudo", "pointwise_nonlinear"))
    return f"{s[0]} * {x[0]}", x[1].on(x[1].axis or s[1].axis)


def vector_part(gen: Gen) -> Made:
    x = _mv(gen)
    return (
        None if x is None else (f"vector_part({x[0]})", Ty(((x[1].copies, "vector"),), x[1].axis))
    )


def scalar_part(gen: Gen) -> Made:
    """An invariant read out by the solver's `linear` (the grade-0 projection) and fed to an
    MLP: the usual CGENN readout."""
    x = _mv(gen)
    if x is None:
        return None
    c = gen.integer(1, 3)
    expr = f"linear({x[0]}, {c} x scalar)"
    if gen.coin(0.5):
        gen.tags.add("pointwise_nonlinear")
        expr = f"mlp({expr}, [{gen.integer(1, 4)}, {c}], act={gen.choice(ACTIVATIONS)})"
    return expr, scalars(c, x[1].axis)


def solver_linear(gen: Gen) -> Made:
    """`linear` between multivectors and vectors through the solver's basis."""
    x = gen.pick(lambda t: set(t.atoms) <= {algebra(gen), "vector", "scalar", *PSEUDO})
    if x is None:
        return None
    pseudo = PSEUDO if gen.family.info["kind"] == "orth" else ()
    out = gen.choice((algebra(gen), "vector", *pseudo))
    ty = Ty(((gen.integer(1, 2), out),))
    return f"linear({x[0]}, {ty.text()})", ty.on(x[1].axis)


def euclidean_on_mv(gen: Gen) -> Made:
    """Risky: Euclidean norms / activations / MLPs / elementwise products / max on multivectors
    (equivariant only under a definite metric, and for norms only; GEO420 / GEO402 / GEO401)."""
    x = _mv(gen)
    if x is None or gen.coin(0.5):
        return None
    name, ty = x
    op = gen.choice(("norm", "sqnorm", "act", "mlp", "mul", "max", "norm_act", "layer_norm"))
    gen.tags.add(f"mv_euclid_{op}")
    if op in ("norm", "sqnorm"):
        return f"{op}({name})", scalars(ty.copies, ty.axis)
    if op == "act":
        return f"act({name}, {gen.choice(ACTIVATIONS)})", ty
    if op == "mlp":
        return f"mlp({name}, [2, 1])", scalars(1, ty.axis)
    if op == "mul":
        other = _partner(gen, ty)
        return f"{name} * {other[0]}", ty
    if op == "max":
        if ty.axis is None:
            return None
        return f"max({name}, over={ty.axis})", ty.on(None)
    return f"{op}({name})", ty


def centred(gen: Gen) -> Made:
    """CGENN's input: positions relative to their mean, a vector, embedded at grade 1."""
    pos = gen.family.positions
    return f"embed_vector({pos} - mean({pos}, over=nodes))", Ty(((1, algebra(gen)),), "nodes")

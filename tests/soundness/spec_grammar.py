"""Random well-typed `.geo` specs, family by family, as text (hypothesis strategies).

A family fixes a group, a domain and the input atoms; the spec is then grown from a pool of
operator templates whose result types the generator works out itself (the typing algebra of
DSL.md and docs/operators.md), so the declared outputs match what a correct compiler infers.
A few templates are *risky* on purpose (an activation on vectors, `max` of vectors, a norm
under a Lorentz group, ...): their static verdict is not predicted, the fuzzer only counts it,
and, if geoc accepts them, checks them numerically like the rest. Every spec carries `tags`
naming the constructs it uses, so known false accepts can be listed by construct
(`test_soundness.KNOWN_FALSE_ACCEPTS`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

INVARIANT = ("scalar", "0e")


@dataclass(frozen=True)
class Ty:
    """A feature type: ``terms`` (multiplicity, atom text) on ``axis`` (None: global)."""

    terms: tuple[tuple[int, str], ...]
    axis: str | None = None

    def text(self) -> str:
        body = " + ".join(f"{m} x {a}" for m, a in self.terms)
        return body + (f" over {self.axis}" if self.axis else "")

    @property
    def copies(self) -> int:
        return sum(m for m, _ in self.terms)

    @property
    def atoms(self) -> tuple[str, ...]:
        return tuple(a for _, a in self.terms)

    def on(self, axis: str | None) -> Ty:
        return Ty(self.terms, axis)

    def plus(self, other: Ty) -> Ty:
        """The direct sum, equal atoms next to each other merged (the same layout)."""
        terms = list(self.terms)
        for mul, atom in other.terms:
            if terms and terms[-1][1] == atom:
                terms[-1] = (terms[-1][0] + mul, atom)
            else:
                terms.append((mul, atom))
        return Ty(tuple(terms), self.axis or other.axis)


def scalars(mul: int, axis: str | None = None) -> Ty:
    return Ty(((mul, "scalar"),), axis)


def is_point(atom: str) -> bool:
    return atom.startswith("point")


def is_manifold(atom: str) -> bool:
    return atom.split("(")[0] in ("lorentz", "poincare", "spd", "unit")


def is_irrep(atom: str) -> bool:
    return len(atom) == 2 and atom[0].isdigit() and atom[1] in "eo"


def irrep_of(atom: str) -> tuple[int, int] | None:
    """``(l, parity)`` of an O(3) atom (named atoms count as irreps), else None."""
    named = {"scalar": (0, 1), "pseudoscalar": (0, -1), "vector": (1, -1), "pseudovector": (1, 1)}
    if atom in named:
        return named[atom]
    return (int(atom[0]), 1 if atom[1] == "e" else -1) if is_irrep(atom) else None


@dataclass
class Family:
    """What a spec of one family may use (see the module docstring)."""

    name: str
    group: str
    domain: str | None
    n: int  # dimension of the rotated space (0: none)
    axis: str | None  # the permuted / grid axis values live on
    inputs: dict[str, Ty]
    templates: list[Callable[[Gen], tuple[str, Ty] | None]]
    positions: str | None = None  # the point input of a pointcloud
    edges: bool = False
    rotations: bool = False  # the group rotates channels (vectors, irreps, tensors)
    parity: bool = False  # reflections are in the group (O(n), E(n), D(n))
    field: str | None = None  # "torus" / "sphere": values are fields on a grid
    grid: tuple[int, ...] = ()
    # Harness facts: group kind, edge rule, spec tags of the family, ...
    info: dict = dataclasses.field(default_factory=dict)


@dataclass
class Spec:
    """A generated spec: its text, its family, the declared inputs and outputs, its tags."""

    text: str
    family: Family
    inputs: dict[str, Ty]
    outputs: dict[str, Ty]
    tags: frozenset[str]


class Gen:
    """Grows one spec: a pool of named, typed values and the statements that bound them."""

    def __init__(self, draw: Callable, family: Family) -> None:
        self.draw, self.family = draw, family
        self.pool: list[tuple[str, Ty]] = list(family.inputs.items())
        self.lines: list[str] = []
        self.blocks: list[str] = []
        self.tags: set[str] = set()

    # -- drawing helpers
    def choice(self, options):
        return self.draw(st.sampled_from(list(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def coin(self, p_true: float = 0.5) -> bool:
        return self.draw(st.floats(0, 1)) < p_true

    def pick(self, pred: Callable[[Ty], bool]) -> tuple[str, Ty] | None:
        found = [(n, t) for n, t in self.pool if pred(t)]
        return self.choice(found) if found else None

    def bind(self, expr: str, ty: Ty, name: str | None = None) -> str:
        name = name or f"v{len(self.lines)}"
        self.lines.append(f"    {name} = {expr}")
        self.pool.append((name, ty))
        return name

    # -- type facts of the family
    def invariant(self, ty: Ty) -> bool:
        fam = self.family
        if fam.field:
            return all(a == "scalar" for a in ty.atoms)
        return all(a in INVARIANT or (not fam.rotations and not is_point(a)) for a in ty.atoms)

    def plain(self, ty: Ty) -> bool:
        """No points and no manifold points (Euclidean operators take it)."""
        return not any(is_point(a) or is_manifold(a) for a in ty.atoms)

    def axes_ok(self, a: Ty, b: Ty) -> bool:
        return a.axis == b.axis or a.axis is None or b.axis is None


def grow(draw: Callable, family: Family, max_statements: int = 6) -> Spec:
    """A spec of ``family``: statements from its templates, maybe a block and a repeat, then
    one to three outputs over the family's axis or global."""
    gen = Gen(draw, family)
    gen.tags.update(family.info.get("tags", ()))
    prelude = list(family.info.get("prelude", ()))
    for step in range(gen.integer(1, max_statements) + len(prelude)):
        template = prelude[step] if step < len(prelude) else gen.choice(family.templates)
        made = template(gen)
        if made is not None:
            gen.bind(*made)
    if gen.coin(0.35):
        _block_or_repeat(gen)
    outputs = _outputs(gen)
    return Spec(_render(gen, outputs), family, dict(family.inputs), outputs, frozenset(gen.tags))


def _block_or_repeat(gen: Gen) -> None:
    """A type-preserving step ``h -> linear(concat(h, w), T)`` as a block call, unrolled by a
    ``repeat`` or both (every irrep of ``T`` is in the concat: Schur allows the map)."""
    picked = gen.pick(lambda t: gen.plain(t) and t.axis == gen.family.axis)
    if picked is None:
        return
    name, ty = picked
    extra = gen.pick(lambda t: gen.plain(t) and t.axis == ty.axis)
    other = f", {extra[0]}" if extra else ""
    body = f"linear(concat(h{', w' if extra else ''}), {ty.on(None).text()})"
    out = f"r{len(gen.lines)}"
    call = f"linear(concat({out}{other}), {ty.on(None).text()})"
    if gen.coin():
        gen.tags.add("block")
        params = f"h: {ty.text()}" + (f", w: {extra[1].text()}" if extra else "")
        gen.blocks.append(
            f"block b0({params}) -> ({ty.text()}) {{\n    y = {body}\n    return y\n}}\n"
        )
        call = f"b0({out}{other})"
    gen.lines.append(f"    {out} = {name}")
    if gen.coin(0.7):
        gen.tags.add("repeat")
        times = gen.integer(1, 3)
        gen.lines.append(f"    repeat {times} {{\n        {out} = {call}\n    }}")
    else:
        gen.lines.append(f"    {out} = {call}")
    gen.pool.append((out, ty))


def _outputs(gen: Gen) -> dict[str, Ty]:
    fam = gen.family
    usable = [(n, t) for n, t in gen.pool if t.axis in (None, fam.axis) and n not in fam.inputs]
    if not usable:  # nothing computed: output a linear map of an input (or the input itself)
        usable = [(n, t) for n, t in gen.pool if t.axis in (None, fam.axis)]
    count = gen.integer(1, min(3, len(usable)))
    chosen = (
        usable[-count:]
        if gen.coin(0.6)
        else gen.draw(
            st.lists(st.sampled_from(usable), min_size=1, max_size=3, unique_by=lambda v: v[0])
        )
    )
    outputs = {}
    for i, (name, ty) in enumerate(chosen):
        gen.lines.append(f"    output out{i}: {ty.text()} = {name}")
        outputs[f"out{i}"] = ty
    return outputs


def _render(gen: Gen, outputs: dict[str, Ty]) -> str:
    fam = gen.family
    head = ["model M() {", f"    symmetry {fam.group}"]
    if fam.domain:
        head.append(f"    domain {fam.domain}")
    head += [f"    input {n}: {t.text()}" for n, t in fam.inputs.items()]
    return "".join(gen.blocks) + "\n".join([*head, *gen.lines, "}"]) + "\n"


ACTIVATIONS = ("relu", "silu", "gelu", "tanh", "sigmoid", "softplus", "identity")
ODD = ("tanh", "identity")

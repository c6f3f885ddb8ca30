# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""O(3) operators: spherical harmonics, a radial basis, tensor products, gated and normed
non-linearities, an equivariant layer norm, and NequIP's tensor-product convolution.

Irreps follow e3nn (``docs/o3_conventions.md``); ``scalar``, ``pseudoscalar``, ``vector`` and
``pseudovector`` count as ``0e``, ``0o``, ``1o`` and ``1e`` (vectors only in 3-D). Under O(3)
and E(3) the parity rule holds (``p_out = p1 p2``). Under SO(3), SE(3) and groups without
rotations parity is not a symmetry: every path of the triangle rule is allowed and the kernels
see every irrep as even, so ``1o x 1o -> 1o`` is the cross product there.

    >>> from geoc.types import FeatureType
    >>> from geoc.groups import Group
    >>> h = FeatureType.parse("4x0e + 4x1o over nodes")
    >>> sh = FeatureType.parse("0e + 1o + 2e over edges")
    >>> conv_paths(h, sh, FeatureType.parse("4x0e + 4x1o"), Group.parse("O(3)")).paths
    ((0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3), (1, 2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError
from geoc.domains import EDGE_AXIS
from geoc.groups import Group, Rotations
from geoc.o3 import MulIrrep, irrep_product
from geoc.ops import PLAIN, AttrKind, OpContext, attr, contract, define, preset, tensor, typing_rule
from geoc.ops.core import axes_text, invariant_input_violation, joint_axes, positive
from geoc.ops.euclidean import INVARIANT, LAYER
from geoc.types import Atom, AtomKind, FeatureType, Term, irrep, scalars

#: The named atoms as O(3) irreps ``(l, p)``; ``vector`` and ``pseudovector`` only in 3-D.
NAMEDIRREP_TRAITS: dict[AtomKind, tuple[int, int]] = {
    AtomKind.SCALAR: (0, 1),
    AtomKind.PSEUDOSCALAR: (0, -1),
    AtomKind.VECTOR: (1, -1),
    AtomKind.PSEUDOVECTOR: (1, 1),
}
TP_MODES = ("full", "channelwise")
#: How `tp_conv` is lowered: `auto` lets the backend's cost model choose (see
#: ``geoc.backends.torch_fx.o3.tp_conv.choose_tp_conv_algorithm``).
TP_CONV_ALGORITHMS = ("auto", "cg", "so2")


# ---------------------------------------------------------------------------------------------
# Atoms as irreps


def atom_irrep(atom: Atom, group: Group) -> tuple[int, int] | None:
    """``(l, p)`` of an atom, or None if it is not an O(3) irrep in ``group``'s space."""
    if atom.kind is AtomKind.IRREP:
        return atom.args[0], atom.parity
    if atom.is_point and not group.translations and atom.args[0] == group.space_dim == 3:
        return 1, -1  # no translation acts: the point is its vector from the origin
    ir = NAMEDIRREP_TRAITS.get(atom.kind)
    if ir is None or (ir[0] == 1 and group.space_dim != 3):
        return None
    return ir


def scalar_parity(atom: Atom) -> int | None:
    """+1 for even scalars (``scalar``, ``0e``), -1 for odd ones (``pseudoscalar``, ``0o``)."""
    if atom.kind is AtomKind.IRREP:
        return atom.parity if atom.args[0] == 0 else None
    return _SCALAR_PARITY.get(atom.kind)


_SCALAR_PARITY = {AtomKind.SCALAR: 1, AtomKind.PSEUDOSCALAR: -1}


def uses_parity(group: Group) -> bool:
    """Whether reflections act, so that the parity selection rule applies."""
    return group.rotations is Rotations.O


def kernel_irreps(ftype: FeatureType, group: Group) -> tuple[MulIrrep, ...]:
    """``(mul, l, p)`` per term, as the kernels see them: all even where parity is no symmetry."""
    out = []
    for term in ftype.terms:
        ir = atom_irrep(term.atom, group)
        if ir is None:
            raise ValueError(f"`{term.atom}` is not an O(3) irrep")
        out.append((term.mul, ir[0], ir[1] if uses_parity(group) else 1))
    return tuple(out)


def _irreps(ctx: OpContext, ftype: FeatureType, arg: int | None) -> tuple[MulIrrep, ...]:
    """The value's irreps for the kernels; GEO300 / GEO309 when it has other atoms."""
    dim = ctx.group.space_dim
    if ctx.group.rotations is not Rotations.NONE and dim not in (None, 3):
        raise ctx.error(
            "GEO309",
            f"`{ctx.op}` works on O(3) irreps, but the group acts on R^{dim}",
            arg=arg,
            label=str(ftype),
            help="declare `symmetry O(3)`, `SO(3)`, `E(3)` or `SE(3)`",
        )
    for term in ftype.terms:
        if atom_irrep(term.atom, ctx.group) is None:
            message, fix = _not_an_irrep(ctx.op, term.atom)
            fix += ctx.breaks_help(translations=True) if term.atom.is_point else ""
            raise ctx.error("GEO300", message, arg=arg, label=str(ftype), help=fix)
    return kernel_irreps(ftype, ctx.group)


def _not_an_irrep(op: str, atom: Atom) -> tuple[str, str]:
    if atom.is_point:
        return f"`{op}` takes irreps, not the point `{atom}`", (
            "take a difference of points, e.g. `pos[dst] - pos[src]` (a vector)"
        )
    return f"`{op}` takes O(3) irreps, but `{atom}` is not one", (
        "use `scalar`, `vector`, or irreps such as `0e`, `1o`, `2e` (3-D)"
    )


def _check_out_axes(ctx: OpContext, out: FeatureType, axes: tuple[str, ...]) -> None:
    if out.axes and out.axes != axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` gives a value over {axes_text(axes)}, not over {axes_text(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )


def _takes(ctx: OpContext, what: str, value: FeatureType, arg: int, fix: str) -> GeoError:
    """GEO300: argument ``arg`` is not the value the operator takes (``what``)."""
    message = f"`{ctx.op}` takes {what}, not `{value.with_axes(())}`"
    return ctx.error("GEO300", message, arg=arg, label=str(value), help=fix)


def _unreachable(
    ctx: OpContext,
    out: FeatureType,
    reachable: set[tuple[int, int, int]],
    sources: str,
    channelwise: bool = False,
) -> list[Diagnostic]:
    """GEO403 for the first output term that no path produces (it would be zero)."""
    for term in out.terms:
        mul, l, p = kernel_irreps(FeatureType((term,)), ctx.group)[0]
        if (l, p, mul if channelwise else 0) in reachable:
            continue
        rule = "triangle and parity rules" if uses_parity(ctx.group) else "triangle rule"
        why = f"the {rule} allow no path"
        if channelwise:
            why += f" from a term of `a` with {mul} copies (channelwise keeps `a`'s channels)"
        return [
            ctx.diagnostic(
                "GEO403",
                f"`{ctx.op}` cannot produce `{term}` from {sources} under {ctx.group} "
                f"({why}): it would be zero",
                arg=0,
                label=f"no path to {term.atom}",
                help=f"drop `{term}` from `out`, or feed irreps that couple to it",
            )
        ]
    return []


def _products(
    in1: Sequence[MulIrrep], in2: Sequence[MulIrrep], channelwise: bool = False
) -> set[tuple[int, int, int]]:
    """``(l, p, mul)`` of every product of an irrep of ``in1`` with one of ``in2``; ``mul`` is
    the ``in1`` term's multiplicity where it matters (channelwise), else 0."""
    return {
        (*ir, m1 if channelwise else 0)
        for m1, l1, p1 in in1
        for _, l2, p2 in in2
        for ir in irrep_product((l1, p1), (l2, p2))
    }


IRREP_TRAITS = preset(PLAIN, euclidean=INVARIANT)


# ---------------------------------------------------------------------------------------------
# spherical_harmonics, radial_basis

SPHERICAL_HARMONICS = define(
    "spherical_harmonics",
    "o3",
    (tensor("v"), attr("lmax", AttrKind.INT), attr("normalize", AttrKind.BOOL, True)),
    preset(IRREP_TRAITS, "euclidean_norm"),
    "real spherical harmonics `0e + 1o + 2e + ...` up to `lmax` (parity `(-1)^l`; of a "
    "`pseudovector` all even) of one `vector` / `1o` (`GEO300`), e3nn's `component` norm",
)


@typing_rule(SPHERICAL_HARMONICS)
def _infer_spherical_harmonics(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (v,) = types
    lmax = attrs["lmax"]
    if lmax < 0:
        raise ctx.error(
            "GEO302", f"`lmax` must be >= 0, got {lmax}", label=str(lmax), help="e.g. `lmax=2`"
        )
    irreps = _irreps(ctx, v, 0)
    if v.copies != 1 or irreps[0][1] != 1:
        fix = "pass an edge vector such as `pos[dst] - pos[src]`"
        raise _takes(ctx, "one vector (`vector` or `1o`)", v, 0, fix)
    parity = -v.terms[0].atom.sign  # a vector (1o) gives (-1)^l, a pseudovector (1e) +1
    budget.require_dim(f"the spherical harmonics up to lmax={lmax}", (lmax + 1) ** 2)
    terms = tuple(Term(1, irrep(l, parity**l)) for l in range(lmax + 1))
    return (FeatureType(terms, v.axes),)


RADIAL_BASIS = define(
    "radial_basis",
    "o3",
    (tensor("d"), attr("n", AttrKind.INT), attr("cutoff", AttrKind.FLOAT)),
    IRREP_TRAITS,
    "`n x scalar`: the Bessel basis `sqrt(2/c) sin(kπd/c)/d`, `k = 1..n`, times the polynomial "
    "envelope (p = 6), of one invariant scalar `d` (`GEO300`, `GEO401`)",
)


@typing_rule(RADIAL_BASIS)
def _infer_radial_basis(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (d,) = types
    if d.copies != 1 or ctx.group.type_dim(d) != 1:
        fix = "pass an edge length such as `norm(pos[dst] - pos[src])`"
        raise _takes(ctx, "one scalar (a distance)", d, 0, fix)
    if attrs["n"] < 1:
        raise ctx.error("GEO302", f"`n` must be >= 1, got {attrs['n']}", help="e.g. `n=8`")
    positive(ctx, "GEO302", "cutoff", attrs["cutoff"], "e.g. `cutoff=5.0`")
    return (scalars(attrs["n"], d.axes),)


@contract(RADIAL_BASIS)
def _radial_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    return invariant_input_violation(ctx, types[0], 0, "feed a distance, e.g. `norm(r)`")


# ---------------------------------------------------------------------------------------------
# tensor_product


TENSOR_PRODUCT = define(
    "tensor_product",
    "o3",
    (
        tensor("a"),
        tensor("b"),
        attr("out", AttrKind.TYPE),
        attr("mode", AttrKind.SYMBOL, "full", choices=TP_MODES),
    ),
    preset(IRREP_TRAITS, "learned", euclidean=LAYER, linear_in=("a", "b")),
    "`out` on the joint axes: e3nn's Clebsch-Gordan tensor product with learned path weights "
    "(`full`: every allowed path; `channelwise`: e3nn's uvu); an irrep of `out` unreachable by "
    "the selection rules is `GEO403`",
)


@typing_rule(TENSOR_PRODUCT)
def _infer_tensor_product(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    a, b = types
    axes = joint_axes(ctx, types)
    out: FeatureType = attrs["out"]
    _check_out_axes(ctx, out, axes)
    _irreps(ctx, a, 0)
    _irreps(ctx, b, 1)
    _irreps(ctx, out, None)
    return (out.with_axes(axes),)


@contract(TENSOR_PRODUCT)
def _tensor_product_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    a, b = types
    channelwise = attrs["mode"] == "channelwise"
    in1, in2 = kernel_irreps(a, ctx.group), kernel_irreps(b, ctx.group)
    sources = f"`{a.with_axes(())}` x `{b.with_axes(())}`"
    return _unreachable(ctx, attrs["out"], _products(in1, in2, channelwise), sources, channelwise)


# ---------------------------------------------------------------------------------------------
# tp_conv: NequIP's tensor-product convolution


@dataclass(frozen=True)
class ConvPaths:
    """The channelwise tensor product inside `tp_conv`, as the kernels see it.

    ``in1``, ``in2``: ``h``'s and ``sh``'s irreps ``(mul, l, p)`` (all even where parity is no
    symmetry); ``paths``: ``(i1, i2, i_mid)`` in e3nn's order (``i1``, then ``i2``, then
    ``l_out`` ascending), one ``mid`` term ``(mul1, l_out, p1 p2)`` per path, in path order.
    """

    in1: tuple[MulIrrep, ...]
    in2: tuple[MulIrrep, ...]
    mid: tuple[MulIrrep, ...]
    paths: tuple[tuple[int, int, int], ...]

    @property
    def mid_type(self) -> FeatureType:
        """The messages' type (before the linear map to `out`)."""
        return FeatureType(tuple(Term(m, irrep(l, p)) for m, l, p in self.mid))


def conv_paths(h: FeatureType, sh: FeatureType, out: FeatureType, group: Group) -> ConvPaths:
    """Every path ``h_i1 x sh_i2 -> l_out`` whose output irrep appears in ``out``."""
    in1, in2 = kernel_irreps(h, group), kernel_irreps(sh, group)
    wanted = {(l, p) for _, l, p in kernel_irreps(out, group)}
    mid: list[MulIrrep] = []
    paths: list[tuple[int, int, int]] = []
    for i1, (mul, l1, p1) in enumerate(in1):
        for i2, (_, l2, p2) in enumerate(in2):
            for ir in irrep_product((l1, p1), (l2, p2)):
                if ir in wanted:
                    paths.append((i1, i2, len(mid)))
                    mid.append((mul, *ir))
    return ConvPaths(in1, in2, tuple(mid), tuple(paths))


TP_CONV = define(
    "tp_conv",
    "o3",
    (
        tensor("h"),
        tensor("sh"),
        tensor("w"),
        attr("out", AttrKind.TYPE),
        attr("hidden", AttrKind.INT, 64),
        attr("algorithm", AttrKind.SYMBOL, "auto", choices=TP_CONV_ALGORITHMS),
    ),
    preset(IRREP_TRAITS, "learned", "bias", euclidean=LAYER, commutes_gather=False),
    "`out` over nodes: NequIP's convolution, the channelwise tensor product of `h[src]` and "
    "`sh` with weights `mlp(w)`, summed into `dst`, then `linear` to `out` (`h` over nodes, `sh` "
    "and `w` over edges, `GEO305`; `w` invariant, `GEO401`; `out` reachable, `GEO403`)",
)


@typing_rule(TP_CONV)
def _infer_tp_conv(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    h, sh, _ = types
    node_axis = _check_conv_axes(ctx, types)
    out: FeatureType = attrs["out"]
    _check_out_axes(ctx, out, (node_axis,))
    _irreps(ctx, h, 0)
    _irreps(ctx, out, None)
    if any(mul != 1 for mul, _, _ in _irreps(ctx, sh, 1)):
        fix = "pass spherical harmonics, e.g. `spherical_harmonics(r, lmax=2)`"
        raise _takes(ctx, "one copy of each irrep of `sh`", sh, 1, fix)
    if attrs["hidden"] < 1:
        raise ctx.error(
            "GEO302", f"`hidden` must be >= 1, got {attrs['hidden']}", help="e.g. `hidden=64`"
        )
    return (out.with_axes((node_axis,)),)


def _check_conv_axes(ctx: OpContext, types: Sequence[FeatureType]) -> str:
    """``h`` over the node axis, ``sh`` and ``w`` over edges; returns the node axis."""
    node_axis = ctx.domain.axis
    if not ctx.domain.has_edges or node_axis is None:
        raise ctx.error(
            "GEO203",
            f"`tp_conv` sends messages along edges, but the domain `{ctx.domain}` has none",
            label="no edges here",
            help="declare `domain graph(nodes)` or `domain pointcloud(nodes, edges=...)`",
        )
    for index, (ftype, axis) in enumerate(
        zip(types, (node_axis, EDGE_AXIS, EDGE_AXIS), strict=True)
    ):
        if ftype.axes != (axis,):
            raise ctx.error(
                "GEO305",
                f"`tp_conv` takes {('h', 'sh', 'w')[index]} over {axis}, not over "
                f"{axes_text(ftype.axes)}",
                arg=index,
                label=str(ftype),
                help="`tp_conv(h over nodes, sh over edges, w over edges, out=...)`",
            )
    return node_axis


@contract(TP_CONV)
def _tp_conv_contract(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> list[Diagnostic]:
    h, sh, w = types
    found = invariant_input_violation(
        ctx, w, 2, "feed invariants, e.g. `radial_basis(norm(r), ...)`"
    )
    reachable = _products(kernel_irreps(h, ctx.group), kernel_irreps(sh, ctx.group))
    sources = f"`{h.with_axes(())}` x `{sh.with_axes(())}`"
    return found + _unreachable(ctx, attrs["out"], reachable, sources)


__all__ = [
    "NAMEDIRREP_TRAITS",
    "TP_CONV_ALGORITHMS",
    "TP_MODES",
    "ConvPaths",
    "atom_irrep",
    "conv_paths",
    "kernel_irreps",
    "scalar_parity",
    "uses_parity",
]

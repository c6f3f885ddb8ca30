"""Core operators that map the channels of each element: the equivariant `linear` map, the
`mlp` on invariants, the pointwise activations `act` (with the table of activations), and
`embed`, the learned table of integer labels (`index(n)`, see ``labels.py``).

Each operator: its signature, its typing rule, its equivariance contract, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geoc.diagnostics import Diagnostic
from geoc.groups import Group
from geoc.ops import (
    PLAIN,
    AttrKind,
    OpContext,
    attr,
    contract,
    define,
    init_attrs,
    preset,
    tensor,
    typing_rule,
)
from geoc.ops.core import axes_text, invariant_input_violation, not_invariant, point_violation
from geoc.ops.euclidean import ACT, LAYER
from geoc.types import SCALAR, Atom, FeatureType, Term


@dataclass(frozen=True)
class Activation:
    """A pointwise function: whether it is odd (it commutes with sign flips, so it may act on
    sign representations), and the torch function that computes it by its dotted name, which
    the backend resolves (None: the identity, which is linear, so it commutes with every group
    action and may act on any value)."""

    odd: bool
    torch: str | None

    @property
    def linear(self) -> bool:
        return self.torch is None


#: The activations of the language, by name: the one table the compiler and backend read.
ACTIVATIONS = {
    "relu": Activation(odd=False, torch="torch.nn.functional.relu"),
    "silu": Activation(odd=False, torch="torch.nn.functional.silu"),
    "swish": Activation(odd=False, torch="torch.nn.functional.silu"),
    "gelu": Activation(odd=False, torch="torch.nn.functional.gelu"),
    "sigmoid": Activation(odd=False, torch="torch.sigmoid"),
    "softplus": Activation(odd=False, torch="torch.nn.functional.softplus"),
    "elu": Activation(odd=False, torch="torch.nn.functional.elu"),
    "leaky_relu": Activation(odd=False, torch="torch.nn.functional.leaky_relu"),
    "tanh": Activation(odd=True, torch="torch.tanh"),
    "sin": Activation(odd=True, torch="torch.sin"),  # SIREN (Sitzmann et al. 2020)
    "identity": Activation(odd=True, torch=None),
}

#: Learned maps on the channels of each element (1x1 maps on fields).
_LAYER = preset(
    PLAIN,
    *("fields", "weights", "channel_first", "learned", "commutes_scatter", "bias"),
    euclidean=LAYER,
    linear_in=("x",),
)

# ---------------------------------------------------------------------------------------------
# linear: the equivariant linear map (Schur)


def _solver_linear(group: Group, types: Sequence[FeatureType], out: FeatureType) -> bool:
    """A `linear` built from the solver's basis (e.g. on `regular` group feature maps) maps
    the last axis: it sees fields channels-last."""
    from geoc.ops import solver_ops

    return solver_ops.uses_solver(group, *types, out)


LINEAR = define(
    "linear",
    "core",
    (tensor("x"), attr("out", AttrKind.TYPE), attr("bias", AttrKind.BOOL, True), *init_attrs()),
    preset(_LAYER, channel_last_when=_solver_linear),
    "`out` on the axes of `x`; Schur: one weight per pair of copies of the same irrep, and "
    "reducible atoms (`sym(n)`, `tensor(k)`, `regular`) by a basis of the maps between their "
    "irreducible parts (`sym(3)` to `scalar` under O(3): the trace); an output irrep absent from "
    "the input is `GEO403` (e.g. scalars to vectors under O(3)); points under translations: "
    "`GEO404`; a bias only on invariant outputs",
)


@typing_rule(LINEAR)
def _infer_linear(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (a,) = types
    out: FeatureType = attrs["out"]
    keep_axes(ctx, a, out)
    from geoc.ops import solver_ops  # the solver's groups build `linear` from their basis

    if solver_ops.uses_solver(ctx.group, a, out):
        solver_ops.check_solver_linear(ctx, a, out)
    return (out.with_axes(a.axes),)


def keep_axes(ctx: OpContext, a: FeatureType, out: FeatureType) -> None:
    """GEO305 unless the type ``out`` given to a per-element map is written without axes or
    with those of its input ``a`` (the result keeps them)."""
    if out.axes and out.axes != a.axes:
        raise ctx.error(
            "GEO305",
            f"`{ctx.op}` keeps the axes of its input ({axes_text(a.axes)}), not "
            f"{axes_text(out.axes)}",
            label=str(out),
            help="write the output type without `over`",
        )


@contract(LINEAR)
def _linear_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    found = point_violation(
        ctx, a, 0, "a linear map of points", "map differences of points (vectors) instead"
    )
    if found:
        return found
    from geoc.ops import solver_ops

    if solver_ops.uses_solver(ctx.group, a, attrs["out"]):
        return solver_ops.solver_linear_contract(ctx, types, attrs)
    have = {key for atom in a.atoms for key, _ in ctx.group.irreps(atom)}
    for atom in attrs["out"].atoms:
        missing = [key for key, _ in ctx.group.irreps(atom) if key not in have]
        if missing:
            return [
                ctx.diagnostic(
                    "GEO403",
                    f"no equivariant linear map from `{a.with_axes(())}` to `{atom}` under "
                    f"{ctx.group}: it must be zero (Schur's lemma)",
                    arg=0,
                    label=str(a.with_axes(())),
                    help=f"the input has no `{atom}` part; make one first, e.g. `s * v`",
                )
            ]
    return []


# ---------------------------------------------------------------------------------------------
# mlp, act


MLP = define(
    "mlp",
    "core",
    (
        tensor("x"),
        attr("widths", AttrKind.INT_LIST),
        attr("act", AttrKind.SYMBOL, "silu"),
        attr("last_act", AttrKind.BOOL, False),
        attr("bias", AttrKind.BOOL, True, per_layer=True),
        *init_attrs(per_layer=True),
    ),
    preset(_LAYER, linear_in=(), commutes_scatter=False),
    "multi-layer perceptron: `widths[-1] x scalar`; its input must be invariant (`GEO401`)",
)


@typing_rule(MLP)
def _infer_mlp(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    (a,) = types
    widths = attrs["widths"]
    if not widths or any(w < 1 for w in widths):
        raise ctx.error(
            "GEO302",
            "`mlp` needs a non-empty list of positive widths",
            label=str(list(widths)),
            help="e.g. `mlp(h, [64, 64])`",
        )
    check_activation(ctx, attrs["act"])
    check_per_layer(ctx, attrs, len(widths))
    return (FeatureType((Term(widths[-1], SCALAR),), a.axes),)


def check_per_layer(ctx: OpContext, attrs: dict, layers: int) -> None:
    """GEO371 unless each per-layer attribute given as a list has one entry per layer."""
    from geoc.ops import lookup

    op = lookup(ctx.op)
    assert op is not None
    for param in op.attr_params:
        value = attrs.get(param.name)
        if param.per_layer and isinstance(value, tuple) and len(value) != layers:
            raise ctx.error(
                "GEO371",
                f"`{param.name}` lists {len(value)} value{'s' if len(value) != 1 else ''} for "
                f"the {layers} layer{'s' if layers != 1 else ''} of `{ctx.op}`",
                label=f"{len(value)} for {layers}",
                help=f"give one value for every layer, or a list of {layers}",
                attr=param.name,
            )


@contract(MLP)
def _mlp_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    help_text = "feed `norm(x)` or `sqnorm(x)` (invariant) instead, or use `linear(x, ...)`"
    if a.has_points:
        help_text = "feed invariants such as `sqnorm(x[dst] - x[src])` instead"
    return invariant_input_violation(ctx, a, 0, help_text)


def check_activation(ctx: OpContext, name: str) -> None:
    if name not in ACTIVATIONS:
        raise ctx.error(
            "GEO302",
            f"`{name}` is not a known activation",
            label="unknown activation",
            help="activations: " + ", ".join(f"`{n}`" for n in ACTIVATIONS),
        )


ACT_OP = define(
    "act",
    "core",
    (tensor("x"), attr("fn", AttrKind.SYMBOL)),
    preset(PLAIN, "elementwise", "fields", "weights", "ambient", euclidean=ACT),
    "pointwise function, same type: on invariant channels, on coordinates the group permutes "
    "(`regular`; `vector`, `tensor(k)` of `S(n)`, `A(n)`), odd `fn` (`tanh`, `sin`) also on "
    "coordinates it permutes with signs (pseudoscalars under O(n), vectors under O(1), `C(4)`, "
    "`D(4)`), `identity` on any value; else `GEO402`",
)


@typing_rule(ACT_OP)
def _infer_act(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    check_activation(ctx, attrs["fn"])
    return (types[0],)


@contract(ACT_OP)
def _act_contract(ctx: OpContext, types: Sequence[FeatureType], attrs: dict) -> list[Diagnostic]:
    (a,) = types
    fn = ACTIVATIONS[attrs["fn"]]
    if fn.linear:  # f(A x) = A f(x) for every matrix A, and f(x + b) = f(x) + b
        return []
    moved = [x for x in not_invariant(ctx, a) if not ctx.group.permutes(x)]
    bad = [x for x in moved if not (fn.odd and ctx.group.signed_permutes(x))]
    if not bad:
        return []
    atom = bad[0]
    fix = "apply it to invariants, or use `gate(...)` to scale vectors by activated scalars"
    if ctx.group.signed_permutes(atom):
        fix = "use an odd activation such as `tanh`, or apply it to `norm(x)`"
    return [
        ctx.diagnostic(
            "GEO402",
            f"`{attrs['fn']}` applied pointwise to `{atom}` breaks {ctx.group}",
            arg=0,
            label=str(a),
            help=fix + ctx.breaks_help(),
        )
    ]


# ---------------------------------------------------------------------------------------------
# embed: integer labels to features


EMBED = define(
    "embed",
    "core",
    (tensor("z"), attr("out", AttrKind.TYPE)),
    preset(PLAIN, "learned", labels=("z",)),
    "a learned table with one row of `out` per class: `z` of type `index(n)` gives `out` on "
    "the axes of `z` (`torch.nn.functional.embedding`); `out` holds invariant channels only "
    "(`scalar`, `0e`), else `GEO362`; `z` must be labels, else `GEO362`",
)


@typing_rule(EMBED)
def _infer_embed(
    ctx: OpContext, types: Sequence[FeatureType], attrs: dict
) -> tuple[FeatureType, ...]:
    """Elements fix labels and move them with their element, so rows are invariants on z's axes."""
    (z,) = types
    out: FeatureType = attrs["out"]
    if z.classes is None:
        raise ctx.error(
            "GEO362",
            f"`embed` looks up integer labels, but this value is `{z}`",
            arg=0,
            label=str(z),
            help="declare the input as labels, e.g. `input z: index(species) over nodes`; "
            "map float features with `linear(x, ...)` instead",
        )
    keep_axes(ctx, z, out)
    moved = next((a for a in out.atoms if not _fixed(ctx, a)), None)
    if moved is not None:
        raise ctx.error(
            "GEO362",
            f"`embed` gives the same row whatever {ctx.group} does, so its output is invariant "
            f"scalars, not `{moved}`",
            label=str(out),
            help="embed into scalars (`channels x scalar`, `channels x 0e`) and make other "
            "irreps from them with the geometry (e.g. `tp_conv`, `s * v`)",
        )
    return (out.with_axes(z.axes),)


def _fixed(ctx: OpContext, atom: Atom) -> bool:
    """Channels a table may hold: Euclidean coordinates every group element leaves alone."""
    plain = not (atom.is_point or atom.is_manifold or atom.is_label)
    return plain and ctx.group.is_invariant(atom)

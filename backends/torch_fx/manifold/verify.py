"""Numeric manifold membership, for ``geoc check``: every manifold-valued value of a compiled
module lies on its manifold (docs/manifolds.md states the measures and tolerances).

The checker draws inputs of manifold types on their manifolds (:func:`draw_value`), runs the
module through the fx value recorder, and measures every IR value whose type has a manifold
term (:func:`membership_rows`):

=============  =====================================================  =======================
atom           error of one point                                     passes when
=============  =====================================================  =======================
lorentz(n, k)  ``|<x,x>_L + 1/k| / (x0² + |x_s|²)``, inf if x0 <= 0    error <= tolerance
poincare(n,c)  ``max(sqrt(c)|x| - 1, 0)``                             ``sqrt(c)|x| < 1``
unit(n)        ``||x| - 1|``                                          error <= tolerance
spd(n)         ``|X - Xᵀ|max / |X|max``; inf if ``λ_min <= 0``          error <= tolerance
=============  =====================================================  =======================

The tolerance is relative: :data:`TOLERANCE` per dtype (1e-10 in float64, 1e-4 in float32).

    >>> import torch
    >>> from geoc.types import FeatureType
    >>> from geoc.groups import Group
    >>> x = torch.tensor([[2.0 ** 0.5, 1.0, 0.0]], dtype=torch.float64)
    >>> membership_error(x, FeatureType.parse("lorentz(2, k=1.0)"), Group()) < 1e-15
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.diagnostics import Diagnostic, Span, render
from geoc.domains.grid import is_field
from geoc.groups import Group
from geoc.ir import Graph
from geoc.types import Atom, AtomKind, FeatureType

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}
DEFAULT_TOLERANCE = 1e-2  # half precision and friends


def tolerance(dtype: torch.dtype) -> float:
    return TOLERANCE.get(dtype, DEFAULT_TOLERANCE)


# ---------------------------------------------------------------------------------------------
# Errors of one atom's points: ``[..., dim]`` -> ``[...]``


def lorentz_error(x: Tensor, atom: Atom) -> Tensor:
    k = atom.curvature or 1.0
    sq = x.pow(2)
    inner = sq[..., 1:].sum(-1) - sq[..., 0]
    error = (inner + 1.0 / k).abs() / sq.sum(-1)
    return torch.where(x[..., 0] > 0, error, torch.inf)


def poincare_error(x: Tensor, atom: Atom) -> Tensor:
    c = atom.curvature or 1.0
    radius = x.pow(2).sum(-1).sqrt() * c**0.5
    return torch.where(radius < 1, 0.0, radius - 1 + torch.finfo(x.dtype).eps)


def unit_error(x: Tensor, atom: Atom) -> Tensor:
    """Off the sphere, except an exact 0: `normalize` keeps it, the only equivariant choice
    (docs/manifolds.md)."""
    norm = x.pow(2).sum(-1).sqrt()
    return torch.where(norm == 0, 0.0, (norm - 1).abs())


def spd_error(x: Tensor, atom: Atom) -> Tensor:
    n = atom.args[0]
    mat = x.reshape(*x.shape[:-1], n, n)
    scale = mat.abs().amax((-1, -2)).clamp(min=torch.finfo(x.dtype).tiny)
    asym = (mat - mat.transpose(-1, -2)).abs().amax((-1, -2)) / scale
    lowest = torch.linalg.eigvalsh((mat + mat.transpose(-1, -2)) / 2)[..., 0]
    return torch.where(lowest > 0, asym, torch.inf)


ERRORS: dict[AtomKind, Callable[[Tensor, Atom], Tensor]] = {
    AtomKind.LORENTZ: lorentz_error,
    AtomKind.POINCARE: poincare_error,
    AtomKind.UNIT: unit_error,
    AtomKind.SPD: spd_error,
}


def _copies(value: Tensor, ftype: FeatureType, group: Group):
    """``(atom, [..., dim])`` for every manifold copy of ``value``."""
    start = 0
    for term in ftype.terms:
        dim = group.atom_dim(term.atom)
        for _ in range(term.mul):
            if term.atom.kind in ERRORS:
                yield term.atom, value[..., start : start + dim]
            start += dim


def membership_error(value: Tensor, ftype: FeatureType, group: Group) -> float:
    """The largest error of any manifold copy of ``value`` (0.0 without one; NaN is inf); a
    field comes channel-first, ``[batch, channels, *grid]``."""
    if is_field(ftype):
        value = value.movedim(1, -1)
    worst = 0.0
    for atom, part in _copies(value, ftype, group):
        if part.numel() == 0:
            continue
        error = ERRORS[atom.kind](part.detach(), atom)
        error = torch.nan_to_num(error, nan=float("inf"))
        worst = max(worst, float(error.max()))
    return worst


# ---------------------------------------------------------------------------------------------
# The check


@dataclass(frozen=True)
class MembershipRow:
    """The worst error of the values on one kind of manifold."""

    manifold: str
    values: int
    error: float
    tolerance: float
    worst: str  # the IR value with the largest error
    span: Span | None = None

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(
            "GEO601",
            f"`{self.worst}` is off {self.manifold}: error {self.error:.1e} > {self.tolerance:.0e}",
            self.span,
            label=self.manifold,
            help="the lowering of this operator does not keep its value on the manifold; "
            "`geoc explain GEO601`",
        )


def membership_rows(
    module: fx.GraphModule, ir: Graph, inputs: Sequence[Mapping[str, Any]], dtype: torch.dtype
) -> list[MembershipRow]:
    """Run ``module`` on each input set and measure every manifold-valued IR value."""
    from geoc.backends.torch_fx.verify import record

    found: dict[AtomKind, tuple[int, float, str, Span | None]] = {}
    for given in inputs:
        values = record(module, given).values
        for node in ir.nodes:
            ftype, value = node.out_types[0], values.get(node.id)
            if not (ftype.has_manifold and isinstance(value, Tensor)):
                continue
            kind = next(t.atom.kind for t in ftype.terms if t.atom.is_manifold)
            if kind not in ERRORS:  # frames: frames/verify.py, with their conditioning
                continue
            count, worst, name, span = found.get(kind, (0, -1.0, "", None))
            error = membership_error(value, ftype, ir.group)
            if error > worst:
                worst, name, span = error, node.id, node.span
            found[kind] = (count + 1, worst, name, span)
    return [
        MembershipRow(kind.value, count // max(len(inputs), 1), worst, tolerance(dtype), name, span)
        for kind, (count, worst, name, span) in found.items()
    ]


def membership_lines(rows: Sequence[MembershipRow]) -> list[str]:
    """The report's lines: one per manifold kind."""
    if not rows:
        return []
    lines = ["  manifold membership (relative error, docs/manifolds.md):"]
    for row in rows:
        verdict = "ok" if row.passed else f"OFF THE MANIFOLD (worst: {row.worst})"
        lines.append(
            f"    {row.manifold}: {row.values} values, max error {row.error:.1e} "
            f"(tolerance {row.tolerance:.0e}) {verdict}"
        )
        if not row.passed:
            lines += ["    " + line for line in render(row.diagnostic()).splitlines()]
    return lines


# ---------------------------------------------------------------------------------------------
# Inputs on their manifolds


def draw_atom(atom: Atom, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random points of one copy of ``atom``: ``[*shape, dim]`` (float64)."""
    n = atom.args[0]
    if atom.kind is AtomKind.LORENTZ:
        space = rng.normal(size=(*shape, n)) * 0.7
        time = np.sqrt(1.0 / (atom.curvature or 1.0) + (space**2).sum(-1, keepdims=True))
        return np.concatenate([time, space], -1)
    if atom.kind is AtomKind.POINCARE:
        sqrt_c = (atom.curvature or 1.0) ** 0.5
        v = rng.normal(size=(*shape, n)) * 0.5
        norm = np.linalg.norm(v, axis=-1, keepdims=True) * sqrt_c
        return np.tanh(norm) * v / norm
    if atom.kind is AtomKind.UNIT:
        v = rng.normal(size=(*shape, n))
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
    a = rng.normal(size=(*shape, n, n))
    if atom.kind is AtomKind.FRAME:  # orthonormal, stored column by column (frames family)
        q, _ = np.linalg.qr(a)
        return np.swapaxes(q, -1, -2).reshape(*shape, n * n)
    if atom.kind is AtomKind.SYM:
        return ((a + np.swapaxes(a, -1, -2)) / 2).reshape(*shape, n * n)
    spd = a @ np.swapaxes(a, -1, -2) / n + 0.5 * np.eye(n)
    return spd.reshape(*shape, n * n)


def needs_manifold_draw(ftype: FeatureType) -> bool:
    return any(t.atom.is_manifold or t.atom.kind is AtomKind.SYM for t in ftype.terms)


def draw_value(
    group: Group, ftype: FeatureType, rng: np.random.Generator, shape: tuple[int, ...]
) -> np.ndarray:
    """A random value of ``ftype`` over axes of ``shape``: manifold copies on their manifold,
    the other channels standard normal."""
    parts = []
    for term in ftype.terms:
        for _ in range(term.mul):
            if term.atom.is_manifold or term.atom.kind is AtomKind.SYM:
                parts.append(draw_atom(term.atom, rng, shape))
            else:
                parts.append(rng.normal(size=(*shape, group.atom_dim(term.atom))))
    return np.concatenate(parts, -1)


__all__ = [
    "TOLERANCE",
    "MembershipRow",
    "draw_atom",
    "draw_value",
    "membership_error",
    "membership_lines",
    "membership_rows",
    "needs_manifold_draw",
    "tolerance",
]

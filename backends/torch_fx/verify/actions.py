"""Group elements and how they move values: ``g·value`` by the law of a value's type, and
how far a value is from that law."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from geoc import budget
from geoc.backends.torch_fx.domains.fields import is_field_type
from geoc.diagnostics import Diagnostic
from geoc.groups import Group, GroupElement, Rotations, random_rotation
from geoc.ir import Graph
from geoc.types import FeatureType


def draw_element(
    group: Group, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    """A random element; under O(n) / E(n) odd trials reflect, so both kinds always occur."""
    element = group.sample(rng, dict(sizes))
    if group.rotations is Rotations.O and group.geometric is not None:
        rotation = random_rotation(rng, group.geometric.n, reflect=trial % 2 == 1)
        element = replace(element, rotation=rotation)
    if group.matrix is not None:  # each component of O(p, q) in turn
        element = group.matrix.for_trial(element, rng, trial)
    return replace(element, label=describe(element))


def describe(element: GroupElement) -> str:
    """``"rotation+reflection, translation, permutation"``: what ``element`` does."""
    if element.grid_move is not None:
        return element.grid_move.label
    parts = []
    if element.rotation is not None:
        parts.append("rotation+reflection" if element.det < 0 else "rotation")
    if element.matrix is not None:  # an element of a matrix group (Lorentz(n), S(5), ...)
        parts.append(element.matrix_kind or "group element")
    if element.translation is not None:
        parts.append("translation")
    if any(not np.array_equal(p, np.arange(len(p))) for p in element.permutations.values()):
        parts.append("permutation")
    return ", ".join(parts) or "identity"


@dataclass(frozen=True)
class AxisMap:
    """How ``g`` reindexes one axis: new element ``j`` is old ``index[j]``; only ``valid`` count."""

    index: Tensor
    valid: Tensor | None = None


def axis_permutation(element: GroupElement, axis: str, n: int) -> Tensor:
    perm = element.permutations.get(axis)
    return torch.arange(n) if perm is None else torch.as_tensor(perm, dtype=torch.long)


def transform(
    value: Tensor,
    ftype: FeatureType,
    group: Group,
    element: GroupElement,
    maps: Mapping[str, AxisMap],
) -> Tensor:
    """``g·value`` by the law of ``ftype``: axes reindexed by ``maps``, channels by the group.

    The trailing dimensions are ``(*ftype.axes, channels)``; a leading graph dimension of a
    batched global value is left alone. Fields on a grid move with the element's
    :class:`~geoc.backends.torch_fx.domains.fields.GridMove` (their channels are scalars, or
    `regular` blocks that the grid's rotations permute).
    """
    if is_field_type(ftype):
        return value if element.grid_move is None else element.grid_move.apply(value, ftype)
    if ftype.has_labels:  # `[N]` or `[N, 1]` labels: no element changes one, they only move
        return _reindex(value, ftype, maps, 0)
    value = _reindex(value, ftype, maps, value.ndim - 1 - len(ftype.axes))
    actions = group.term_actions(ftype, element)
    width = sum(count * len(mat) for count, mat, _ in actions)
    if value.shape[-1] != width:
        raise ValueError(f"{value.shape[-1]} channels, but `{ftype}` has {width}")
    like: dict[str, Any] = {"dtype": value.dtype, "device": value.device}
    lead, parts, start = value.shape[:-1], [], 0
    for count, mat, shift in actions:  # one copy's matrix per term, never the block diagonal
        dim = len(mat)
        copies = value[..., start : start + count * dim].reshape(*lead, count, dim)
        moved = copies @ torch.as_tensor(mat, **like).T + torch.as_tensor(shift, **like)
        parts.append(moved.reshape(*lead, count * dim))
        start += count * dim
    return torch.cat(parts, dim=-1) if parts else value


def _reindex(value: Tensor, ftype: FeatureType, maps: Mapping[str, AxisMap], first: int) -> Tensor:
    """``value`` with its axes (from dimension ``first`` on) reindexed by ``maps``."""
    for i, axis in enumerate(ftype.axes):
        if axis in maps:
            value = value.index_select(first + i, maps[axis].index.to(value.device))
    return value


def action_budget_problems(ir: Graph) -> list[Diagnostic]:
    """GEO520 at each value whose one-copy action matrix (a Kronecker power for `tensor(k)`)
    is over the resource budget: checked before the checker builds any of them."""
    problems = []
    values = [(ftype, node.span) for node in ir.nodes for ftype in node.out_types]
    for ftype, span in values:
        for term in ftype.terms:
            if is_field_type(ftype):
                break  # fields move by their grid move, not by matrices
            dim = ir.group.atom_dim(term.atom)
            try:
                budget.require_matrix(f"the action of {ir.group} on one `{term.atom}`", dim, dim)
            except budget.BudgetExceeded as err:
                message = f"`geoc check` cannot move this value: {err}"
                problems.append(Diagnostic("GEO520", message, span, help=budget.RAISE_HELP))
                break
    return list(dict.fromkeys(problems))


@dataclass(frozen=True)
class Deviation:
    """How far a value is from its law: max ``|f(g·x) - g·f(x)|`` and max ``|g·f(x)|``."""

    error: float
    scale: float

    @property
    def relative(self) -> float:
        return self.error / max(self.scale, 1e-300)

    def within(self, atol: float) -> bool:
        return self.error < atol  # False for NaN

    def worse(self, other: Deviation) -> Deviation:
        return other if np.isnan(other.error) or other.error > self.error else self


NOT_ITS_TYPE = Deviation(float("inf"), float("inf"))


def law_error(
    actual: Tensor, expected: Tensor, ftype: FeatureType, maps: Mapping[str, AxisMap]
) -> Deviation:
    """The deviation over the valid entries (masked-out edges do not count); NaN propagates."""
    if actual.shape != expected.shape:
        return NOT_ITS_TYPE
    diff = (actual - expected).abs()
    size = expected.abs()
    first = actual.ndim - 1 - len(ftype.axes)
    for i, axis in enumerate(ftype.axes):
        valid = maps[axis].valid if axis in maps else None
        if valid is not None:
            shape = [1] * actual.ndim
            shape[first + i] = -1
            keep = valid.to(actual.device).reshape(shape)
            diff, size = torch.where(keep, diff, 0.0), torch.where(keep, size, 0.0)
    if diff.numel() == 0:
        return Deviation(0.0, 0.0)
    return Deviation(float(diff.max()), float(size.max()))


def value_error(
    before: Tensor,
    after: Tensor,
    ftype: FeatureType,
    group: Group,
    element: GroupElement,
    maps: Mapping[str, AxisMap],
) -> Deviation:
    try:
        expected = transform(before, ftype, group, element, maps)
    except (ValueError, IndexError, RuntimeError):  # wrong shape: the value is not of its type
        return NOT_ITS_TYPE
    return law_error(after, expected, ftype, maps)

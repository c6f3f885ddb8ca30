"""Frames in ``geoc check``: every ``frame(n)`` value is orthonormal where its vectors were well
conditioned (GEO621 otherwise), and the smallest conditioning margin seen is reported, with the
GEO620 warning when a frame was near-degenerate on the drawn inputs (docs/language.md, "Frames
and canonicalisation").

The margin of a frame built from vectors ``v_1..v_k`` (the inputs of the IR node that made it)
is ``min_k |r_k| / |v_k|``, ``r_k`` the part of ``v_k`` orthogonal to the earlier vectors: 1 for
orthogonal vectors, 0 for parallel or vanishing ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.frames.kernels import MARGIN, as_matrix, conditioning
from geoc.backends.torch_fx.manifold.verify import tolerance
from geoc.diagnostics import Diagnostic, Span, render
from geoc.ir import Graph, Node
from geoc.types import AtomKind, FeatureType

#: Below this margin a frame is near-degenerate: its columns are shortened on purpose (the
#: kernels' smooth normalisation), so GEO620, and its orthonormality is not judged there.
WARN_MARGIN = MARGIN


@dataclass(frozen=True)
class FrameRow:
    """The frames of a checked module: orthonormality on well-conditioned elements, and the
    smallest conditioning margin (None where no frame was built from vectors)."""

    values: int
    error: float
    tolerance: float
    margin: float | None
    worst: str  # the frame value with the smallest margin (or the largest error)
    span: Span | None = None

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

    @property
    def degenerate(self) -> bool:
        return self.margin is not None and self.margin < WARN_MARGIN

    def warning(self) -> Diagnostic:
        return Diagnostic(
            "GEO620",
            f"frame `{self.worst}` was near-degenerate on the drawn inputs: margin "
            f"{self.margin:.1e} (smallest |r_k|/|v_k|)",
            self.span,
            label="near-degenerate frame",
            help="outputs stay finite, but the canonical orientation is ill-defined here; "
            "`geoc explain GEO620`",
        )

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(
            "GEO621",
            f"frame `{self.worst}` is not orthonormal: error {self.error:.1e} > "
            f"{self.tolerance:.0e}",
            self.span,
            label="not orthonormal",
            help="`geoc explain GEO621`",
        )


def _is_frame(ftype: FeatureType) -> bool:
    return len(ftype.terms) == 1 and ftype.terms[0].atom.kind is AtomKind.FRAME


def _vectors(
    ir: Graph, node: Node, values: Mapping[str, Any], given: Mapping[str, Any]
) -> list[Tensor] | None:
    """The vectors a frame was built from, placed per element of the frame: a global vector
    (one per graph) is read at each element's graph. None where they cannot be placed (not
    vectors, or a frame over an axis other than the primary one)."""
    axes = node.out_types[0].axes
    batch = given.get("batch")
    out = []
    for ref in node.inputs:
        value = values.get(ref.node)
        if not isinstance(value, Tensor):
            return None
        if axes and not ir.type_of(ref).axes:
            if axes != (ir.domain.axis,):
                return None
            if isinstance(batch, Tensor) and value.dim() == 2:
                value = value[batch]
        out.append(value)
    try:
        shape = torch.broadcast_shapes(*(v.shape for v in out))
    except RuntimeError:
        return None
    return [v.expand(shape) for v in out]


def _measure(
    ir: Graph, node: Node, values: Mapping[str, Any], given: Mapping[str, Any]
) -> tuple[float, float] | None:
    """(orthonormality error on well-conditioned elements, smallest margin) of one frame."""
    frame = values.get(node.id)
    if not isinstance(frame, Tensor) or frame.numel() == 0:
        return None
    n = node.out_types[0].terms[0].atom.args[0]
    vectors = _vectors(ir, node, values, given)
    margins = conditioning(*vectors) if vectors else None
    matrix = as_matrix(frame.detach(), n)
    eye = torch.eye(n, dtype=matrix.dtype, device=matrix.device)
    error = (matrix.transpose(-1, -2) @ matrix - eye).abs().amax((-1, -2))
    error = torch.nan_to_num(error, nan=float("inf"))
    if margins is not None and margins.shape == error.shape:
        error = torch.where(margins >= WARN_MARGIN, error, 0.0)
    margin = float(margins.min()) if margins is not None and margins.numel() else 1.0
    return float(error.max()), margin


def frame_rows(
    module: fx.GraphModule, ir: Graph, inputs: Sequence[Mapping[str, Any]], dtype: torch.dtype
) -> list[FrameRow]:
    """Run ``module`` on each input set and measure every frame-valued IR value (none: [])."""
    from geoc.backends.torch_fx.verify import record

    frames = [node for node in ir.nodes if _is_frame(node.out_types[0])]
    if not frames:
        return []
    worst_error, worst_margin, worst, span, count = 0.0, 1.0, frames[0].id, frames[0].span, 0
    for given in inputs:
        values = record(module, given).values
        for node in frames:
            measured = _measure(ir, node, values, given)
            if measured is None:
                continue
            count += 1
            error, margin = measured
            if margin < worst_margin or (error > worst_error and margin >= worst_margin):
                worst, span = node.id, node.span
            worst_error, worst_margin = max(worst_error, error), min(worst_margin, margin)
    per_set = count // max(len(inputs), 1)
    return [FrameRow(per_set, worst_error, tolerance(dtype), worst_margin, worst, span)]


def frame_lines(rows: Sequence[FrameRow]) -> list[str]:
    """The report's lines: orthonormality and the conditioning margin, the warning if any."""
    lines = []
    for row in rows:
        verdict = "ok" if row.passed else "NOT ORTHONORMAL"
        lines.append(
            f"  frames: {row.values} values, orthonormality error {row.error:.1e} (tolerance "
            f"{row.tolerance:.0e}) {verdict}; smallest margin {row.margin:.1e}"
        )
        if row.degenerate:
            lines += ["    " + line for line in render(row.warning()).splitlines()]
        if not row.passed:
            lines += ["    " + line for line in render(row.diagnostic()).splitlines()]
    return lines


__all__ = ["WARN_MARGIN", "FrameRow", "frame_lines", "frame_rows"]

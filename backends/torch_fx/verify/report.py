"""The report of a check: one row per output, the first value that breaks its law (``GEO600``
with its source excerpt), and the table ``geoc check`` prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from geoc.backends.torch_fx.domains.fields import BandLimitedRow
from geoc.backends.torch_fx.frames.verify import FrameRow, frame_lines
from geoc.backends.torch_fx.manifold.verify import MembershipRow, membership_lines
from geoc.backends.torch_fx.sequence.verify import CausalityRow
from geoc.backends.torch_fx.verify.breaking import BreakingRow
from geoc.catalog import BUILTIN_PREFIX, builtin_spec
from geoc.diagnostics import Diagnostic, Span, render


@dataclass(frozen=True)
class OutputRow:
    """One output's verdict, from its worst trial (a failing one, else the one closest to its
    bound): the error, absolute and relative, and the bound it was held to in that trial."""

    name: str
    type: str
    max_error: float
    rel_error: float
    passed: bool
    tolerance: float = 0.0


@dataclass(frozen=True)
class Failure:
    """The first IR value that breaks the law of its type (or the edge set, node ``edges``)."""

    node: str
    op: str
    type: str
    span: Span | None
    error: float
    rel_error: float
    element: str  # label of the group element that exposed it
    trial: int
    source_line: str | None = None

    @property
    def location(self) -> str:
        return str(self.span) if self.span else "<unknown>"

    def to_json(self) -> dict[str, object]:
        """The blamed value in ``geoc check --json`` (``geoc graph --report`` marks it)."""
        return {
            "node": self.node,
            "op": self.op,
            "type": self.type,
            "location": self.location,
            "error": self.error,
            "rel_error": self.rel_error,
            "element": self.element,
            "trial": self.trial,
        }

    def diagnostic(self) -> Diagnostic:
        """The ``GEO600`` diagnostic, pointing at the value's source span."""
        return Diagnostic(
            "GEO600",
            f"`{self.node}` does not transform as `{self.type}` under {self.element}",
            self.span,
            label=self.type,
            notes=(f"found in trial {self.trial + 1}; every value before it obeys its law",),
            help=f"the lowering of `{self.op}` (or its typing rule) is not equivariant; "
            "`geoc explain GEO600`",
        )


@dataclass
class CheckReport:
    """What :func:`check_module` found; ``render()`` gives the table ``geoc check`` prints."""

    model: str
    group: str
    dtype: torch.dtype
    atol: float | None  # a fixed absolute bound the caller gave; None: the exact-law rtol
    graphs: int
    outputs: list[OutputRow]
    elements: list[str]  # one label per trial, e.g. "rotation+reflection, translation"
    first_failure: Failure | None
    elapsed: float
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    rtol: float = 0.0  # the exact laws' relative tolerance (verify/laws.py)
    random_trials: list[int] = field(default_factory=list)  # trials run with random parameters
    # Grid domains: what the exact trials moved, and the band-limited rotation rows (sphere).
    exact_law: str = ""
    band_limited: list[BandLimitedRow] = field(default_factory=list)
    membership: list[MembershipRow] = field(default_factory=list)  # manifold-valued values
    frames: list[FrameRow] = field(default_factory=list)  # frame values (GEO620, GEO621)
    breaking: BreakingRow | None = None  # declared symmetry breaking, measured (verify/breaking)
    causality: CausalityRow | None = None  # a causal sequence's law (sequence/verify.py)

    @property
    def passed(self) -> bool:
        exact = all(row.passed for row in self.outputs) and self.first_failure is None
        on_manifolds = all(row.passed for row in [*self.membership, *self.frames])
        causal = self.causality is None or self.causality.passed
        return exact and on_manifolds and causal and all(r.passed for r in self.band_limited)

    @property
    def warnings(self) -> list[Diagnostic]:
        """What passed but deserves a look: near-degenerate frames (GEO620)."""
        return [row.warning() for row in self.frames if row.degenerate]

    @property
    def max_error(self) -> float:
        return max((row.max_error for row in self.outputs), default=0.0)

    def render(self) -> str:
        lines = [self._header(), *_table(self.outputs), self._parameters_line()]
        if self.breaking is not None:
            lines += self.breaking.lines()
        lines.append(f"  tolerance: {self.tolerance_text()}")
        if self.exact_law:
            lines.append(f"  exact: {self.exact_law}")
        if self.band_limited:
            lines += _band_limited_lines(self.band_limited)
        lines += membership_lines(self.membership)
        lines += frame_lines(self.frames)
        lines += self.causality.lines() if self.causality else []
        if self.passed:
            under = f" under {self.group}; {self.breaking.broken}" if self.breaking else ""
            lines.append(
                f"  every output transforms as declared{under} (max error {self.max_error:.1e}) "
                f"in {self.elapsed:.2f} s"
            )
            return "\n".join(lines) + "\n"
        lines.append("  FAILED")
        if self.first_failure is not None:
            lines += ["first value that breaks its law:", self._failure_text()]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, object]:
        """The verdict as data (``geoc check --json``): the group verified, what was declared
        broken and how far the outputs move under the declared group, one row per output."""
        row = self.breaking
        return {
            "model": self.model,
            "verified": self.group,
            "declared": row.declared if row else self.group,
            "broken": row.broken if row else None,
            "breaking_observed": row.observed if row else None,
            "breaking_rel_error": row.rel_error if row else None,
            "causality_max_change": self.causality.max_change if self.causality else None,
            "passed": self.passed,
            "max_error": self.max_error,
            "outputs": [
                {"name": r.name, "type": r.type, "max_error": r.max_error, "passed": r.passed}
                for r in self.outputs
            ],
            "first_failure": self.first_failure.to_json() if self.first_failure else None,
        }

    def tolerance_text(self) -> str:
        """The bound of the exact trials: the caller's ``atol``, or the exact-law rule."""
        if self.atol is not None:
            return f"max error < {self.atol:.0e} per output (atol given)"
        dtype = str(self.dtype).removeprefix("torch.")
        bound = f"error <= {self.rtol:.0e} x max(|g·f(x)|, 1)"
        return f"{bound} per output and trial (exact laws, {dtype})"

    def _parameters_line(self) -> str:
        count = len(self.elements)
        drawn = self.random_trials
        if not drawn:
            return "  parameters: as compiled in every trial"
        given = [i for i in range(count) if i not in drawn]
        return (
            f"  parameters: {_trial_list(given)} as compiled; {_trial_list(drawn)} random "
            "(every parameter re-drawn, seeded)"
        )

    def _header(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        batch = f", batch of {self.graphs} graphs" if self.graphs > 1 else ""
        parts, count = _element_parts(self.elements), len(self.elements)
        return (
            f"geoc check: {self.model} under {self.group}, {dtype}, "
            f"{count} trial{'s' if count != 1 else ''}{batch} ({parts})"
        )

    def _failure_text(self) -> str:
        fail = self.first_failure
        assert fail is not None
        head = (
            f"  {fail.node} ({fail.op}) at {fail.location}: max error {fail.error:.1e}, "
            f"relative {fail.rel_error:.1e}"
        )
        return head + "\n" + render(fail.diagnostic(), self.sources).rstrip("\n")


def _band_limited_lines(rows: Sequence[BandLimitedRow]) -> list[str]:
    """The approximate guarantee: rotations of band-limited fields, aliasing included."""
    lines = [
        "  band-limited: random rotations of band-limited fields, compared coefficient by "
        "coefficient, relative to the largest:"
    ]
    for row in rows:
        verdict = "ok" if row.passed else "ABOVE TOLERANCE"
        lines.append(
            f"    {row.name}: relative error {row.rel_error:.1e} (tolerance {row.rtol:.0e}, "
            f"{row.reason}) {verdict}"
        )
    return lines


def _trial_list(indices: Sequence[int]) -> str:
    """``trial 1`` or ``trials 2, 3`` (1-based, as the report counts them)."""
    names = ", ".join(str(i + 1) for i in indices)
    return f"trial {names}" if len(indices) == 1 else f"trials {names}"


def _table(rows: Sequence[OutputRow]) -> list[str]:
    cells = [("output", "type", "max error", "rel error", "bound", "status")]
    cells += [
        (
            *(r.name, r.type, f"{r.max_error:.1e}", f"{r.rel_error:.1e}"),
            *(f"{r.tolerance:.1e}", "ok" if r.passed else "FAIL"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  " + "   ".join(map(str.ljust, row, widths)).rstrip() for row in cells]


PART_ORDER = ("rotation", "rotation+reflection", "translation", "permutation", "identity")


def _element_parts(labels: Sequence[str]) -> str:
    """The distinct kinds of transformation used: ``rotation, rotation+reflection, ...``."""
    parts = {p for label in labels for p in label.split(", ")}
    rank = {p: i for i, p in enumerate(PART_ORDER)}
    return ", ".join(sorted(parts, key=lambda p: rank.get(p, len(rank))))


def source_text(file: str, sources: Mapping[str, str]) -> str | None:
    """The text of a spec file: given, a built-in spec (``<builtin>/egnn.geo``), or on disk."""
    if file in sources:
        return sources[file]
    if file.startswith(BUILTIN_PREFIX + "/"):
        spec = builtin_spec(file.removeprefix(BUILTIN_PREFIX + "/"))
        return spec.read_text() if spec else None
    path = Path(file)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def source_line(span: Span | None, sources: Mapping[str, str]) -> str | None:
    text = source_text(span.file, sources) if span else None
    lines = text.splitlines() if text else []
    return lines[span.line - 1].strip() if span and 0 < span.line <= len(lines) else None

"""One fuzzed spec, end to end: compile (or a diagnostic), random parameters, the harness's own
``f(g·x)`` against ``g·f(x)``, and geoc's checker on the same module; plus the statistics the
long run reports (docs/soundness.md)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import group_actions as ga
import numpy as np
import torch
from spec_grammar import Spec

import geoc
from geoc.backends.torch_fx.manifold.riemannian import manifold_parameters
from geoc.backends.torch_fx.verify import check_module
from geoc.backends.torch_fx.verify.params import onto_manifold
from geoc.diagnostics import GeoError

RTOL = 1e-9  # the exact laws hold to rounding in float64: |error| <= RTOL * max(1, |g·f(x)|)
MEMBERSHIP = 1e-8  # manifold-valued outputs lie on their manifold to rounding (float64)
# Linear spectral layers commute with rotations of band-limited fields to rounding
# (docs/spectral.md); only pointwise non-linearities alias.
LINEAR_BAND_LIMITED = 1e-8
# Tags that exempt a spec from that bound: non-linearities alias; a projection `isht(sht(u))`
# can make an output (`u - isht(sht(u))`) vanish on band-limited inputs, leaving rounding
# relative to rounding.
ALIASING = frozenset({"pointwise_nonlinear", "sht_projection"})
CODE = re.compile(r"^GEO\d{3}$")


@dataclass
class Outcome:
    """What happened to one spec."""

    verdict: str  # rejected | accepted | nonfinite | crash
    codes: tuple[str, ...] = ()
    harness_error: float = 0.0  # worst relative error of the harness over the outputs
    harness_ok: bool = True
    checker_ok: bool = True  # geoc's exact rows (check_module)
    band_limited_ok: bool = True  # geoc's band-limited rows (SO(3) on a sphere), if any
    band_limited_error: float = 0.0
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def run(spec: Spec, seed: int) -> Outcome:
    try:
        module = geoc.compile(spec.text, dtype=torch.float64)
    except GeoError as err:
        return _rejected(err)
    except Exception as err:
        return Outcome("crash", detail=f"compile: {type(err).__name__}: {err}")
    rng = np.random.default_rng(seed)
    randomise_parameters(module, rng)
    return _accepted(spec, module, rng, seed)


def _rejected(err: GeoError) -> Outcome:
    """A rejection must be a proper diagnostic: registered codes, the first with a span."""
    out = Outcome("rejected", codes=tuple(err.codes))
    if not err.diagnostics or not all(CODE.match(d.code) for d in err.diagnostics):
        out.problems.append(f"diagnostic without a proper code: {err.codes}")
    elif err.diagnostics[0].span is None:
        out.problems.append(f"{err.codes[0]} without a span: {err.diagnostics[0].message}")
    return out


def randomise_parameters(module: torch.nn.Module, rng: np.random.Generator) -> None:
    """Every parameter random (not the initial values): matrices about 1.5 / sqrt(fan_in),
    vectors and scalars about 0.5; a parameter on a manifold (a Poincaré bias point, Stiefel
    weights) put back on it, as an optimiser keeps it (a bias point past the ball's edge is
    no point of the model: its outputs were ill-conditioned to 2e-7, a false finding)."""
    constrained = manifold_parameters(module)
    with torch.no_grad():
        for name, param in module.named_parameters():
            fan_in = param.shape[-1] if param.ndim >= 2 else 1
            scale = 1.5 / math.sqrt(fan_in) if param.ndim >= 2 else 0.5
            values = onto_manifold(
                rng.normal(scale=scale, size=tuple(param.shape)), rng, constrained.get(name)
            )
            param.copy_(torch.as_tensor(values, dtype=param.dtype))


def _accepted(spec: Spec, module, rng: np.random.Generator, seed: int) -> Outcome:
    family = spec.family
    sample = ga.draw_inputs(family, rng)
    elem = ga.draw_element(family, rng, sample.sizes)
    moved = ga.move_inputs(sample, elem, family)
    try:
        with torch.no_grad():
            before, after = module(**sample.inputs), module(**moved)
        before = ga.as_tensors(before, spec.outputs, family, sample.inputs)
        after = ga.as_tensors(after, spec.outputs, family, moved)
    except Exception as err:
        return Outcome("crash", detail=f"module: {type(err).__name__}: {err}")
    worst, membership = 0.0, []
    for name, ty in spec.outputs.items():
        if not (torch.isfinite(before[name]).all() and torch.isfinite(after[name]).all()):
            return Outcome("nonfinite", detail=name)
        off = ga.membership_error(before[name], ty, family)
        if not off <= MEMBERSHIP:
            membership.append(f"output `{name}` leaves its manifold (relative error {off:.2g})")
        expected = ga.move(before[name], ty, elem, family)
        if expected.shape != after[name].shape:
            worst = math.inf
            continue
        size = max(1.0, _largest(expected))
        worst = max(worst, _largest(after[name] - expected) / size)
    out = Outcome("accepted", harness_error=worst, harness_ok=worst <= RTOL)
    out.problems += membership + _rewrite_differences(spec, module, sample.inputs, before)
    graphs = sample.graphs if family.axis and not family.field else 1
    try:
        report = check_module(module, trials=2, seed=seed, graphs=graphs, rtol=RTOL)
    except Exception as err:
        out.problems.append(f"geoc check crashed: {type(err).__name__}: {err}")
        return out
    out.checker_ok = all(row.passed for row in report.outputs)
    out.band_limited_ok = all(row.passed for row in report.band_limited)
    out.band_limited_error = max((row.rel_error for row in report.band_limited), default=0.0)
    if out.band_limited_error > LINEAR_BAND_LIMITED and not spec.tags & ALIASING:
        out.problems.append(
            f"a linear spec moves band-limited fields with relative error "
            f"{out.band_limited_error:.2g} under SO(3) (geoc check's rotation of the sphere)"
        )
    if not out.harness_ok:
        out.problems.append(f"not equivariant: relative error {worst:.3g} under {elem.label}")
    if out.harness_ok != out.checker_ok:
        said = "passes" if out.checker_ok else "fails"
        out.problems.append(f"geoc check {said}, the independent harness does not agree")
    return out


def _rewrite_differences(spec: Spec, module, inputs: dict, rewritten: dict) -> list[str]:
    """Where the IR rewrites fired (geoc.optimize), the spec compiled as written, with the
    same parameters, must compute the same outputs (docs/optimizer.md)."""
    if not module.meta.get("geoc_rewrites"):
        return []
    written = geoc.compile(spec.text, dtype=torch.float64, optimize="none")
    # Every parameter carries over; common-subexpression elimination keeps one copy of equal
    # constant buffers (two `mdot`s' metric), so the module as written may have more of those.
    missing, unexpected = written.load_state_dict(module.state_dict(), strict=False)
    parameters = dict(written.named_parameters())
    assert not unexpected and not any(key in parameters for key in missing), (missing, unexpected)
    with torch.no_grad():
        expected = ga.as_tensors(written(**inputs), spec.outputs, spec.family, inputs)
    found = []
    for name in spec.outputs:
        size = max(1.0, _largest(expected[name]))
        off = _largest(rewritten[name] - expected[name]) / size
        if not off <= RTOL:
            fired = ", ".join(sorted({f.rewrite for f in module.meta["geoc_rewrites"]}))
            found.append(f"rewrites ({fired}) change output `{name}` by {off:.2g}")
    return found


def _largest(value: torch.Tensor) -> float:
    return float(value.abs().max()) if value.numel() else 0.0


class Stats:
    """Counts per family and verdict, rejection codes, groups, tags, and the findings."""

    def __init__(self) -> None:
        self.verdicts: Counter = Counter()
        self.codes: Counter = Counter()
        self.groups: Counter = Counter()
        self.tags: Counter = Counter()
        self.band_limited_failures = 0
        self.findings: dict[str, dict] = {}

    def add(self, spec: Spec, outcome: Outcome, known: list[str]) -> None:
        fam = spec.family.name
        self.verdicts[f"{fam}:{outcome.verdict}"] += 1
        self.groups[f"{fam}:{spec.family.group}"] += 1
        for tag in spec.tags:
            self.tags[tag] += 1
        for code in outcome.codes[:1]:
            self.codes[f"{fam}:{code}"] += 1
        if not outcome.band_limited_ok:
            self.band_limited_failures += 1
        for problem in outcome.problems + ([outcome.detail] if outcome.verdict == "crash" else []):
            key = f"{fam}: {re.sub(r'[0-9.e+-]{4,}', 'N', problem)[:120]}"
            entry = self.findings.setdefault(key, {"count": 0, "known": known, "spec": spec.text})
            entry["count"] += 1
            entry["unknown_count"] = entry.get("unknown_count", 0) + (not known)
            if len(spec.text) < len(entry["spec"]):  # keep the shortest reproducer
                entry.update(spec=spec.text, known=known, detail=problem)

    @property
    def total(self) -> int:
        return sum(self.verdicts.values())

    def dump(self, path: str, extra: dict) -> None:
        data = {
            "specs": self.total,
            **extra,
            "verdicts": dict(sorted(self.verdicts.items())),
            "first_codes": dict(sorted(self.codes.items())),
            "groups": dict(sorted(self.groups.items())),
            "tags": dict(sorted(self.tags.items())),
            "band_limited_failures": self.band_limited_failures,
            "findings": self.findings,
        }
        with open(path, "w") as out:
            json.dump(data, out, indent=1)

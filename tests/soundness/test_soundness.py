"""The soundness fuzzer (issue 12): random well-typed specs of every family, compiled, with
random parameters. A static accept must be numerically equivariant under the fuzzer's own group
actions (``group_actions``, written from the documented layouts, not from the checker), and
``geoc check`` must agree with that harness; a rejection must be a diagnostic with a code and a
span, and nothing may crash.

CI runs a small derandomized budget; ``HYPOTHESIS_PROFILE=soundness`` is the long run
(docs/soundness.md). ``GEOC_SOUNDNESS_STATS=<file>`` writes the statistics there;
``GEOC_SOUNDNESS_SURVEY=1`` records findings instead of stopping at the first (for the note).
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soundness_run import Stats, run
from spec_families import FAMILIES, specs

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "soundness"
SURVEY = os.environ.get("GEOC_SOUNDNESS_SURVEY") == "1"
CI_EXAMPLES = 224  # 16 a family (14 families), about 40 s on one core
EXAMPLES = int(os.environ.get("GEOC_SOUNDNESS_EXAMPLES", CI_EXAMPLES))  # a medium run on demand

# Constructs (spec tags, see spec_grammar / spec_templates) that geoc still accepts although
# they are not equivariant, or that crash, each a class of issue 12 being fixed on its own
# branch. A spec with such a tag that fails is counted as known, never silently: the statistics
# list it, and the entry goes as soon as the fix is merged.
KNOWN_FALSE_ACCEPTS: dict[str, str] = {}

STATS = Stats()
_START = time.perf_counter()


def known_tags(spec) -> list[str]:
    """The entries of `KNOWN_FALSE_ACCEPTS` whose tags the spec has."""
    return sorted(key for key in KNOWN_FALSE_ACCEPTS if set(key.split("+")) <= spec.tags)


@pytest.mark.parametrize("family", list(FAMILIES))
@settings(
    max_examples=(settings.default.max_examples if LONG else EXAMPLES) // len(FAMILIES),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_accepted_specs_are_equivariant(family: str, data, seed: int) -> None:
    """Every family in turn, so that a CI run covers each one."""
    spec = data.draw(specs((family,)), label="spec")
    outcome = run(spec, seed)
    known = known_tags(spec)
    STATS.add(spec, outcome, known)
    if STATS.total % 250 == 0:  # a long run leaves figures behind even if it is stopped
        teardown_module()
    problems = outcome.problems + ([outcome.detail] if outcome.verdict == "crash" else [])
    if SURVEY or not problems or known:
        return
    raise AssertionError(f"{'; '.join(problems)}\n--- spec ---\n{spec.text}")


def teardown_module() -> None:
    path = os.environ.get("GEOC_SOUNDNESS_STATS")
    if path:
        profile = os.environ.get("HYPOTHESIS_PROFILE", "default")
        STATS.dump(path, {"profile": profile, "wall_s": round(time.perf_counter() - _START, 1)})

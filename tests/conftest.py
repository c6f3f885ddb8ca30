"""Shared pytest setup: the hypothesis profiles, and the `one_thread` fixture.

``ci`` is reproducible (derandomized: the same examples on every run, so a red build can be
re-run and stays red) and prints the blob that replays a failure; ``dev`` explores new random
examples on every run; ``fuzz`` is a long session, on demand. ``CI`` in the environment picks
``ci``; ``HYPOTHESIS_PROFILE`` overrides.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
# A long fuzzing session on demand:
#   HYPOTHESIS_PROFILE=fuzz pytest tests/frontend/test_fuzz_frontend.py
settings.register_profile("fuzz", deadline=None, max_examples=800, print_blob=True)
# The soundness fuzzer's long run (not CI; docs/soundness.md):
#   HYPOTHESIS_PROFILE=soundness GEOC_SOUNDNESS_SURVEY=1 GEOC_SOUNDNESS_STATS=stats.json \
#       pytest tests/soundness
settings.register_profile(
    "soundness",
    deadline=None,
    max_examples=10_000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
default_profile = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or default_profile)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``: see ``torch_env``.
    Imported here, not at the top: the front-end tests must collect without torch."""
    import torch_env

    with torch_env.one_thread():
        yield

"""Resource budgets: the largest object the solver or the checker may build, consulted before
it is built.

The compiler refuses what it cannot afford rather than exhaust the machine: every equivariant
basis, Kronecker product, dense representation matrix and numeric nullspace solve is sized
first (:func:`require_bytes`, :func:`require_dim`), and one over the active :class:`Budget`
raises :class:`BudgetExceeded`, which the caller reports as GEO520 at the layer that asked for
it. The defaults fit a 24 GiB, 2-core machine; ``geoc --max-bytes / --max-dim`` and the
``budget=`` keyword of :func:`geoc.pipeline.frontend`, ``geoc.backends.torch_fx.compile`` and
``check_module`` raise them.

    >>> from geoc.budget import Budget, using, require_bytes
    >>> with using(Budget(max_bytes=1024)):
    ...     require_bytes("a dense matrix", 4096)
    Traceback (most recent call last):
    ...
    geoc.budget.BudgetExceeded: a dense matrix needs 4.0 KiB, over the budget of 1.0 KiB
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

GIB = 1 << 30
FLOAT64 = 8  # bytes per entry of the solver's and the checker's matrices


@dataclass(frozen=True)
class Budget:
    """Limits on one object: ``max_bytes`` for any array (a basis, a representation matrix, a
    Gram matrix), ``max_dim`` for the tensor space a numeric nullspace solve runs on (its time
    grows fast with it: about a second at the default 2048, 4-25 s at 4096 for tensor(3) maps
    of Lorentz(3) / SO(4), minutes at 50 000), ``max_nodes`` for the IR a model expands to
    (``repeat`` unrolls, blocks inline; 10 000 nodes take about 3 s to elaborate and prove)."""

    max_bytes: int = 2 * GIB
    max_dim: int = 2048
    max_nodes: int = 20_000


DEFAULT = Budget()
_ACTIVE: contextvars.ContextVar[Budget] = contextvars.ContextVar("geoc_budget", default=DEFAULT)

#: What a GEO520 help line says: how to raise the budget.
RAISE_HELP = (
    "raise the budget with `--max-bytes BYTES` / `--max-dim N` / `--max-nodes N` (Python: "
    "`budget=Budget(max_bytes=..., max_dim=..., max_nodes=...)`) on a machine that can afford "
    "it, or use smaller types (a lower tensor order, a smaller group, fewer layers)"
)


#: Seeds run from 0 to this: a torch generator takes 64 bits, and would read -1 as 2**64 - 1
#: (two seeds, one set of weights) and overflow past it. The CLI and the lowering both check it.
MAX_SEED = 2**64 - 1


class BudgetExceeded(Exception):
    """An object over the active budget; not a ValueError, so no caller mistakes it for a
    value of the wrong type."""

    def __init__(self, what: str, size: int, limit: int, unit: str) -> None:
        self.what, self.size, self.limit, self.unit = what, size, limit, unit
        super().__init__(
            f"{what} needs {_amount(size, unit)}, over the budget of {_amount(limit, unit)}"
        )


def current() -> Budget:
    return _ACTIVE.get()


@contextlib.contextmanager
def using(budget: Budget | None) -> Iterator[Budget]:
    """Make ``budget`` the active one inside the ``with`` (None keeps the current one)."""
    if budget is None:
        yield current()
        return
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


def within_budget(run: Callable[P, R]) -> Callable[P, R]:
    """``run`` with a ``budget=`` keyword: the budget active while it runs (None: the current)."""

    @functools.wraps(run)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        limits = kwargs.pop("budget", None)
        with using(limits):  # type: ignore[arg-type]
            return run(*args, **kwargs)

    return wrapper


def require_bytes(what: str, size: int) -> None:
    """BudgetExceeded unless an array of ``size`` bytes fits."""
    limit = current().max_bytes
    if size > limit:
        raise BudgetExceeded(what, size, limit, "bytes")


def require_matrix(what: str, rows: int, cols: int) -> None:
    """BudgetExceeded unless a dense float64 [rows, cols] fits."""
    require_bytes(f"{what} ({rows:,} x {cols:,} float64)", rows * cols * FLOAT64)


def require_nodes(what: str, count: int) -> None:
    """BudgetExceeded unless an IR of ``count`` nodes fits."""
    limit = current().max_nodes
    if count > limit:
        raise BudgetExceeded(what, count, limit, "IR nodes")


def require_dim(what: str, dim: int) -> None:
    """BudgetExceeded unless a numeric solve over ``dim`` dimensions fits."""
    limit = current().max_dim
    if dim > limit:
        raise BudgetExceeded(what, dim, limit, "dimensions")


def _amount(size: int, unit: str) -> str:
    if unit != "bytes":
        return f"{size:,} {unit}"
    value, suffix = float(size), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024:
            break
        value, suffix = value / 1024, name
    return f"{size} bytes" if suffix == "bytes" else f"{value:.1f} {suffix}"

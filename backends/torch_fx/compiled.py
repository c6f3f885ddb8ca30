"""The compiled path: ``geoc.compile(..., optimize="inductor")`` (docs/compiled.md).

The module stays the eager ``fx.GraphModule``; only its *calls* go through ``torch.compile``.
``nn.Module.__call__`` runs ``_compiled_call_impl`` when it is set (what ``nn.Module.compile``
sets), so the parameters and their ``state_dict`` names, ``.meta``, ``.to()``, ``train()`` /
``eval()``, ``geoc.save`` and the generated code are exactly those of the eager module, and
calling ``module.forward(...)`` directly still runs eager.

* Dynamic shapes: ``dynamic=True`` traces every input size symbolically, and
  ``capture_dynamic_output_shape_ops`` keeps the compact edge list of a batch (``nonzero``,
  a data-dependent length) inside the graph instead of breaking it there; no duck shaping,
  so a node count equal to a channel width is not tied to it. One graph then
  serves every node, edge and graph count; a module compiles once per kind of call (with or
  without ``batch``; training or eval; sizes 0 and 1 are specialised by dynamo).
* Verified on first use: the first call also runs the eager module on the same inputs and
  compares every output, within a tolerance of the output's dtype; a difference raises the
  ``GEO507`` diagnostic (a bug of torch.compile or of a kernel that does not trace as it
  runs). It raises rather than falls back: a silent eager fallback would hide both the bug
  and the lost speed.
* Derivatives with respect to inputs (forces, stress: an input that requires grad while grad
  is enabled) run eager, with a warning once: AOTAutograd cannot differentiate its compiled
  backward again, and force training differentiates the forces (``create_graph=True``).
  Training on outputs alone (``loss.backward()``) runs compiled.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, fx
from torch.fx.experimental import _config as symbolic_shapes_config
from torch.utils._pytree import tree_flatten_with_path, tree_leaves

from geoc.diagnostics import Diagnostic, GeoError

#: The ``torch.compile`` backend of the compiled path (tests swap in cheaper ones).
BACKEND: str | Callable = "inductor"

#: How far a compiled output may lie from eager, relative to ``1 + max |eager|``: inductor
#: reorders sums and fuses operations, which moves the last few bits of each dtype.
TOLERANCE = {
    torch.float64: 1e-9,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}

INPUT_GRAD_WARNING = (
    "geoc: optimize='inductor' runs this call eager: an input requires grad (forces, stress), "
    "and torch.compile's AOTAutograd cannot differentiate its backward again "
    "(create_graph=True); compile with optimize='ir' to say so explicitly (docs/compiled.md)"
)


def compile_calls(module: fx.GraphModule) -> fx.GraphModule:
    """``module`` with its calls run through ``torch.compile`` (see the module docstring)."""
    compiled = torch.compile(module._call_impl, backend=BACKEND, dynamic=True)
    module._compiled_call_impl = VerifiedCall(module._call_impl, compiled)
    return module


def is_compiled(module: torch.nn.Module) -> bool:
    return isinstance(getattr(module, "_compiled_call_impl", None), VerifiedCall)


class VerifiedCall:
    """A module's call through its compiled twin, checked against ``eager`` on the first."""

    def __init__(self, eager: Callable, compiled: Callable) -> None:
        self.eager = eager
        self.compiled = compiled
        self.verified = False
        self.warned = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _differentiates_inputs(args, kwargs):
            if not self.warned:
                warnings.warn(INPUT_GRAD_WARNING, stacklevel=3)
                self.warned = True
            return self.eager(*args, **kwargs)
        if not self.verified:  # eager first: bad inputs are refused before any compiling
            with torch.no_grad():
                expected = self.eager(*args, **kwargs)
        with _tracing_options():
            result = self.compiled(*args, **kwargs)
        if not self.verified:
            compare_outputs(result, expected)
            self.verified = True
        return result


@contextlib.contextmanager
def _tracing_options() -> Iterator[None]:
    """What dynamo reads when it traces a call (again): keep the data-dependent length of a
    compact edge list in the graph, and give every size its own symbol (duck shaping would
    tie a node count that happens to equal a channel width to the width, and specialise it)."""
    with (
        torch._dynamo.config.patch(capture_dynamic_output_shape_ops=True),
        symbolic_shapes_config.patch(use_duck_shape=False),
    ):
        yield


def _differentiates_inputs(args: tuple, kwargs: dict) -> bool:
    if not torch.is_grad_enabled():
        return False
    leaves = tree_leaves((args, kwargs))
    return any(isinstance(x, Tensor) and x.requires_grad for x in leaves)


def compare_outputs(compiled: Any, eager: Any) -> None:
    """Raise GEO507 where an output of the compiled call differs from eager's."""
    got, _ = tree_flatten_with_path(compiled)
    want, _ = tree_flatten_with_path(eager)
    if [path for path, _ in got] != [path for path, _ in want]:
        raise _mismatch("its outputs are not those of eager (names or structure differ)")
    for (path, a), (_, b) in zip(got, want, strict=True):
        name = ".".join(str(getattr(key, "key", getattr(key, "idx", key))) for key in path)
        if isinstance(b, Tensor):
            _compare_tensor(name, a, b)
        elif a != b:
            raise _mismatch(f"output `{name}` is {a!r}, eager gives {b!r}")


def _compare_tensor(name: str, got: Any, want: Tensor) -> None:
    if not isinstance(got, Tensor) or got.shape != want.shape or got.dtype != want.dtype:
        shown = f"{got.dtype} {list(got.shape)}" if isinstance(got, Tensor) else type(got)
        raise _mismatch(f"output `{name}` is {shown}, eager gives {want.dtype} {list(want.shape)}")
    got, want = got.detach(), want.detach()
    if not want.is_floating_point():
        if not torch.equal(got, want):
            raise _mismatch(f"output `{name}` differs from eager's (exact dtype {want.dtype})")
        return
    if not torch.equal(got.isnan(), want.isnan()):
        raise _mismatch(f"output `{name}` has NaN where eager's has none, or the reverse")
    finite = ~want.isnan()
    diff = (got[finite] - want[finite]).abs().max().item() if finite.any() else 0.0
    scale = 1.0 + (want[finite].abs().max().item() if finite.any() else 0.0)
    tolerance = TOLERANCE.get(want.dtype, 1e-2)
    if not diff <= tolerance * scale:  # also catches a NaN difference (inf - inf)
        raise _mismatch(
            f"output `{name}` differs from eager's by {diff:.3g} (allowed: {tolerance:g} x "
            f"{scale:.3g} for {str(want.dtype).removeprefix('torch.')})"
        )


def _mismatch(what: str) -> GeoError:
    return GeoError(
        Diagnostic(
            "GEO507",
            f"the torch.compile'd module disagrees with eager on its first call: {what}",
            help="compile with optimize='ir' (eager) to go on, and report this with the spec "
            "and the inputs: torch.compile changed what the module computes",
        )
    )

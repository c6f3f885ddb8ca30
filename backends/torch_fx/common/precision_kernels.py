"""The mixed-precision policy: which values stay in float32 when half precision is in play.

Plain PyTorch (copied into exported folders as ``geoc_runtime_precision.py``).

Under ``torch.autocast`` (bfloat16 on CPU, float16 or bfloat16 on CUDA) matmuls, linears,
convolutions and batched products run in half precision; elementwise ops keep their inputs'
dtype. Three kinds of values would lose too much in 8 (bfloat16) or 11 (float16) mantissa
bits, and are kept in float32 where they enter their kernels, one helper per concern:

* sums over an axis (scatter into nodes, pooling into graphs, the SO(2) convolution's sum into
  ``dst``): :func:`accumulate` / :func:`settle`. A node with a few hundred neighbours would
  lose two or three digits adding in bfloat16, and ``index_add`` needs one dtype;
* geometry (lattice offsets, strained positions, the edge frames and their Wigner matrices):
  :func:`geometry`, which turns autocast off so the small products of coordinates and
  rotations stay in float32;
* Fourier and spherical transforms: :func:`full` on the way in, :func:`transform` around the
  Legendre matrices; torch has no bfloat16 FFT on the CPU.

Without half precision (float32, float64, no autocast) every helper returns its input itself:
nothing changes, bit for bit. docs/precision.md gives the policy with measured errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import Tensor

#: The dtypes too short for sums, geometry and transforms.
HALF = (torch.float16, torch.bfloat16)


def accumulate(values: Tensor) -> Tensor:
    """``values`` in the dtype a sum over them is kept in: float32 for half precision."""
    return values.float() if values.dtype in HALF else values


def settle(total: Tensor, dtype: torch.dtype) -> Tensor:
    """A sum of values of ``dtype`` as its kernel returns it: float32 under autocast (the next
    matmul casts it down itself), else back in ``dtype`` (a module converted to half precision
    keeps its dtype throughout)."""
    if total.dtype == dtype or _autocast_on(total.device):
        return total
    return total.to(dtype)


def _autocast_on(device: torch.device) -> bool:
    """Whether autocast is on for ``device``'s type; never for a type without autocast
    (``meta``: shapes only), where asking would raise."""
    available = getattr(torch.amp, "is_autocast_available", lambda kind: True)  # torch >= 2.4
    return available(device.type) and torch.is_autocast_enabled(device.type)


@contextmanager
def _autocast_off(device: torch.device) -> Iterator[None]:
    enabled = _autocast_on(device)
    with torch.autocast(device.type, enabled=False) if enabled else nullcontext():
        yield


def geometry(device: torch.device) -> AbstractContextManager[None]:
    """A block of geometric arithmetic: autocast off, so products of coordinates and
    rotations run in their inputs' dtype (float32 or better), never in half precision."""
    return _autocast_off(device)


def transform(device: torch.device) -> AbstractContextManager[None]:
    """A Fourier or Legendre transform: autocast off, its matrices applied in float32."""
    return _autocast_off(device)


def full(value: Tensor) -> Tensor:
    """A geometric value or a signal entering a transform, in float32 if it came in half
    precision (torch has no bfloat16 FFT on the CPU)."""
    return value.float() if value.dtype in HALF else value

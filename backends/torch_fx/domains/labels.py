"""Integer labels (``index(n)`` inputs) on domains with an axis: their runtime check and how
``geoc check`` draws them. A label is ``[N]`` (or ``[N, 1]``) integers in ``[0, n)``, as ASE's
``atoms.numbers`` and PyTorch Geometric's ``data.z`` come; group elements only move it with its
element along the axis (``verify/actions.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.common import validate_kernels as rtv
from geoc.backends.torch_fx.validate import axis_label, check, described
from geoc.types import FeatureType

if TYPE_CHECKING:
    from geoc.backends.torch_fx.lower import LowerCtx


def check_label_input(ctx: LowerCtx, name: str, ftype: FeatureType) -> None:
    """The check of one ``index(n) over AXIS`` input: shape, integer dtype, labels in range."""
    classes = ftype.classes
    assert classes is not None and len(ftype.axes) == 1  # the elaborator's rule (GEO361)
    length = axis_label(ftype.axes[0], ctx.ir.domain.axis)
    text = described(ctx, ftype)
    check(ctx, rtv.check_labels, ctx.inputs[name], name, classes, length, text)


def draw_labels(ftype: FeatureType, rng: np.random.Generator, size: int) -> Tensor:
    """``[size]`` random labels in ``[0, n)`` (long: floating dtypes never touch them)."""
    classes = ftype.classes
    assert classes is not None
    return torch.as_tensor(rng.integers(0, classes, size=size), dtype=torch.long)

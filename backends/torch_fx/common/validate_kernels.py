"""Runtime checks of a compiled module's inputs. Plain PyTorch, no geoc imports.

Copied next to every exported module, like the other kernels, so an exported folder refuses bad
inputs exactly as ``geoc.compile``'s module does. Every refusal is an :class:`InputError` (a
``ValueError``) carrying a ``GEO61x`` code and naming the input and the shape its type expects.

Shapes are checked in Python on ``.shape``: in eager mode a plain comparison, under
``torch.compile`` / ``torch.export`` a guard on the traced sizes. Checks on *values* (``batch``
in range, ``edge_index`` in range) raise in eager mode on CPU tensors and become
``torch._assert_async`` assertions everywhere else: while tracing, so ``torch.compile(fullgraph=
True)`` and ``torch.export`` keep them in the graph without a graph break, and on an
accelerator, ``meta`` or fake tensors, where reading a value would stall the device until the
values arrive on the host (or has no value to read): the assertion runs on the device, in order,
and a violation fails there (on CUDA a device-side assertion, reported at the next sync).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

#: A dimension a type fixes (an int) or leaves free (its label: ``N``, ``E``, ``B``, ...).
Dim = int | str


class InputError(ValueError):
    """A compiled module refused an input: ``code`` (``GEO61x``), ``input`` (its name)."""

    def __init__(self, code: str, input_name: str, message: str) -> None:
        super().__init__(f"{code}: input `{input_name}`: {message}")
        self.code = code
        self.input = input_name


def _tracing() -> bool:
    # getattr: an exported folder may run on a torch older than `is_exporting`
    compiling = getattr(torch.compiler, "is_compiling", lambda: False)
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return compiling() or exporting()


def _on_host(x: Tensor) -> bool:
    """Whether ``x``'s values can be read at no cost: a plain CPU tensor, in eager mode (not an
    accelerator's tensor, whose read waits for the device; not ``meta`` or a tracer's fake
    tensor, which hold no values)."""
    return not _tracing() and type(x) is Tensor and x.device.type == "cpu"


def _require(
    ok: Tensor, code: str, name: str, message: str, sizes: Callable[[], str] | None = None
) -> None:
    """A check on values: raise where they are on the host, an assertion that stays on the
    device (and in a traced graph) otherwise.

    ``sizes()`` adds the sizes involved, outside tracing only: traced sizes are symbols, and
    formatting one would break the graph or pin it to that one size."""
    if sizes is not None and not _tracing():
        message += sizes()
    if not _on_host(ok):
        torch._assert_async(ok, f"{code}: input `{name}`: {message}")
    elif not bool(ok):
        raise InputError(code, name, message)


def _shown(dims: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def check_names(
    given: Sequence[object], required: Sequence[str], unexpected: dict, names: Sequence[str]
) -> None:
    """Every required input given (not None), no other keyword than ``names`` (GEO610)."""
    listed = ", ".join(f"`{n}`" for n in names)
    for name in unexpected:
        raise InputError("GEO610", name, f"unexpected; this model takes {listed}")
    for value, name in zip(given, required, strict=True):
        if value is None:
            raise InputError("GEO610", name, f"missing; this model takes {listed}")


def check_value(
    x: object, name: str, dims: Sequence[Dim], described: str, like: Tensor | None
) -> None:
    """``x`` is a floating tensor of shape ``dims`` (free dimensions: any size) in the
    module's dtype (that of ``like``, a parameter; None: any floating dtype)."""
    if not isinstance(x, Tensor):
        raise InputError(
            "GEO611",
            name,
            f"expected a tensor {_shown(dims)} ({described}), got {type(x).__name__}",
        )
    fixed = len(x.shape) == len(dims) and all(
        isinstance(d, str) or x.shape[i] == d for i, d in enumerate(dims)
    )
    if not fixed:
        raise InputError(
            "GEO611", name, f"expected {_shown(dims)} ({described}), got {_shown(x.shape)}"
        )
    if not x.is_floating_point():
        raise InputError(
            "GEO613",
            name,
            f"expected floating values ({described}), got {x.dtype}; convert it with "
            f"`.to({like.dtype if like is not None else 'torch.float32'})`",
        )
    if like is not None and x.dtype != like.dtype:
        raise InputError(
            "GEO613",
            name,
            f"expected {like.dtype}, the module's dtype, got {x.dtype}; convert the input "
            f"(`.to({like.dtype})`) or the module (`module.to({x.dtype})`)",
        )


def check_layers(
    x: object,
    name: str,
    shapes: Sequence[Sequence[Dim]],
    described: str,
    like: Tensor | None,
) -> None:
    """A weight-space input: the list ``[W_1, b_1, ...]``, each layer ``[B, *shape, C]`` (the
    channel axis may be left out when ``C == 1``)."""
    if not isinstance(x, (list, tuple)) or len(x) != len(shapes):
        got = f"{len(x)} tensors" if isinstance(x, (list, tuple)) else type(x).__name__
        raise InputError(
            "GEO611", name, f"expected a list of {len(shapes)} tensors [W_1, b_1, ...], got {got}"
        )
    for i, (layer, dims) in enumerate(zip(x, shapes, strict=True)):
        short = dims[-1] == 1 and isinstance(layer, Tensor) and layer.ndim == len(dims) - 1
        check_value(layer, f"{name}[{i}]", dims[:-1] if short else dims, described, like)
    check_agree(list(x), [f"{name}[{i}]" for i in range(len(x))], 0, "networks")


def check_padded_layers(
    x: object,
    name: str,
    shapes: Sequence[Sequence[Dim]],
    described: str,
    like: Tensor | None,
    maxima: Sequence[int],
    ties: Sequence[int],
) -> None:
    """A padded weight-space input: the layers (:func:`check_layers`), then the true widths
    ``[B, len(maxima)]``, integers (GEO641) from 1 to each maximum (GEO642), equal across the
    layers a skip ties (``ties[j]``: the column whose width column ``j`` must have, GEO643)."""
    if not isinstance(x, (list, tuple)) or len(x) != len(shapes) + 1:
        got = f"{len(x)} tensors" if isinstance(x, (list, tuple)) else type(x).__name__
        raise InputError(
            "GEO641",
            name,
            f"expected a list of {len(shapes)} tensors [W_1, b_1, ...] then the widths "
            f"[B, {len(maxima)}], got {got}",
        )
    check_layers(list(x[:-1]), name, shapes, described, like)
    widths, label = x[-1], f"{name}[{len(shapes)}]"
    batch = x[0].shape[0] if isinstance(x[0], Tensor) else None
    if (
        not isinstance(widths, Tensor)
        or widths.is_floating_point()
        or widths.is_complex()
        or tuple(widths.shape) != (batch, len(maxima))
    ):
        shown = _shown(widths.shape) if isinstance(widths, Tensor) else type(widths).__name__
        raise InputError(
            "GEO641",
            label,
            f"expected the true hidden widths, an integer tensor [{batch}, {len(maxima)}] "
            f"(one row per network), got {shown}",
        )
    top = torch.tensor(list(maxima), device=widths.device)
    _require(
        ((widths >= 1) & (widths <= top)).all(),
        "GEO642",
        label,
        f"a hidden width is between 1 and the declared maximum {list(maxima)}",
    )
    _require(
        (widths == widths[:, list(ties)]).all(),
        "GEO643",
        label,
        "layers joined by a skip (`residual=`) have one width in each network",
    )


def check_same_widths(values: Sequence[Sequence[Tensor]], names: Sequence[str]) -> None:
    """Padded weight-space inputs (already checked one by one) give one widths table: the
    layers mask every input by the first one's widths, so any other table would leave padding
    unmasked or true neurons masked (GEO644)."""
    first = values[0][-1]
    for x, name in zip(values[1:], names[1:], strict=True):
        _require(
            (x[-1] == first).all(),
            "GEO644",
            f"{name}[{len(x) - 1}]",
            f"has the true widths of `{names[0]}` (one table for all weight-space inputs)",
        )


def check_agree(
    values: Sequence[object], names: Sequence[str], dim: int, what: str, shared: bool = True
) -> None:
    """Inputs over one axis have one length there (``what``: ``nodes``, ``samples``, ...);
    a weight-space input (a list) is read at its first layer, and, where ``shared``, a global
    value shared by every sample (``[C]``, where values lead with their sample) is left out
    (values over an axis are never shared: integer labels are ``[N]``)."""
    sized = [
        ((v[0] if isinstance(v, (list, tuple)) else v).shape[dim], name)
        for v, name in zip(values, names, strict=True)
        if isinstance(v, (list, tuple)) or v.ndim > 1 or dim != 0 or not shared
    ]
    for size, name in sized[1:]:
        if size != sized[0][0]:
            raise InputError(
                "GEO612",
                name,
                f"has {size} {what} but `{sized[0][1]}` has {sized[0][0]}: inputs over one "
                "axis must have one length",
            )


def check_edges_agree(values: Sequence[Tensor], names: Sequence[str], edge_index: Tensor) -> None:
    """Inputs over the edges of a given ``edge_index`` have one row per edge (its columns)."""
    for x, name in zip(values, names, strict=True):
        if x.shape[0] != edge_index.shape[1]:
            raise InputError(
                "GEO612",
                name,
                f"has {x.shape[0]} edges but `edge_index` has {edge_index.shape[1]}: one row "
                "per edge",
            )


def check_square(x: Tensor, name: str, grid_dims: int) -> None:
    """A grid the group rotates by 90° must be square."""
    grid = tuple(x.shape[-grid_dims:])
    if any(side != grid[0] for side in grid[1:]):  # compared, not hashed: sizes may be symbolic
        raise InputError(
            "GEO611", name, f"expected a square grid (the group rotates it), got {_shown(grid)}"
        )


def check_divisible(x: Tensor, name: str, grid_dims: int, factor: int) -> None:
    """A grid that the model restricts to ``1 / factor`` of its resolution must have sizes
    divisible by ``factor`` (else the coarse blocks would silently drop the last points)."""
    grid = tuple(x.shape[-grid_dims:])
    if any(side % factor != 0 for side in grid):
        raise InputError(
            "GEO657",
            name,
            f"expected grid sizes divisible by {factor} (the model restricts the grid by "
            f"{factor}), got {_shown(grid)}",
        )


def _integer(x: Tensor) -> bool:
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


def check_labels(x: object, name: str, classes: int, length: str, described: str) -> None:
    """Integer labels (an ``index(n)`` input): ``[N]`` or ``[N, 1]`` (``length``: the free
    length's label), an integer dtype, every label in ``[0, classes)`` (GEO619)."""
    shapes = f"[{length}] or [{length}, 1]"
    if not isinstance(x, Tensor):
        raise InputError(
            "GEO611", name, f"expected a tensor {shapes} ({described}), got {type(x).__name__}"
        )
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
        one_hot = " (one-hot rows? pass `z.argmax(-1)`)" if x.ndim == 2 else ""
        got = f"got {_shown(x.shape)}{one_hot}"
        raise InputError("GEO611", name, f"expected {shapes} ({described}), {got}")
    if not _integer(x):
        raise InputError(
            "GEO613",
            name,
            f"expected integer labels ({described}), got {x.dtype}; labels are classes, not "
            "features: pass integer indices (`.long()`), not one-hot rows",
        )
    ok = ((x >= 0) & (x < classes)).all()
    why = f"labels must lie in [0, {classes}) ({described}); map atomic numbers to type indices"
    _require(ok, "GEO619", name, why)


def check_edge_index(x: object, nodes: Tensor | None) -> None:
    """``[2, E]`` integer node indices in ``[0, N)`` (N: the rows of ``nodes``, an input over
    the node axis); an ``[E, 2]`` layout is refused, never read as ``[2, E]``."""
    name = "edge_index"
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] != 2:
        got = _shown(x.shape) if isinstance(x, Tensor) else type(x).__name__
        flipped = isinstance(x, Tensor) and x.ndim == 2 and x.shape[1] == 2
        hint = " (an [E, 2] layout: pass `edge_index.t()`)" if flipped else ""
        raise InputError("GEO614", name, f"expected [2, E] (row 0 src, row 1 dst), got {got}{hint}")
    if not _integer(x):
        raise InputError("GEO614", name, f"expected integer node indices, got {x.dtype}")
    if nodes is None:
        _require((x >= 0).all(), "GEO614", name, "node indices must be >= 0")
        return
    n = nodes.shape[0]
    ok = ((x >= 0) & (x < n)).all()
    _require(ok, "GEO614", name, "node indices must lie in [0, N)", lambda: f" = [0, {n})")


def check_graphs(batch: object, num_graphs: object, nodes: Tensor | None) -> None:
    """``batch``: ``[N]`` integer graph indices in ``[0, num_graphs)`` (N: the rows of
    ``nodes``); ``num_graphs`` >= 1, and 1 without a ``batch``."""
    given = num_graphs is not None
    if given and (isinstance(num_graphs, bool) or not isinstance(num_graphs, (int, Tensor))):
        raise InputError(
            "GEO616", "num_graphs", f"expected an int, got {type(num_graphs).__name__}"
        )
    if given and isinstance(num_graphs, int) and num_graphs < 1:
        raise InputError("GEO616", "num_graphs", f"must be at least 1, got {num_graphs}")
    if batch is None:
        if given and isinstance(num_graphs, int) and num_graphs != 1:
            raise InputError(
                "GEO616",
                "num_graphs",
                f"is {num_graphs} but no `batch` says which node is in which graph; pass "
                "`batch` too",
            )
        return
    if not isinstance(batch, Tensor) or batch.ndim != 1:
        got = _shown(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise InputError("GEO615", "batch", f"expected [N] graph indices, got {got}")
    if not _integer(batch):
        raise InputError("GEO615", "batch", f"expected integer graph indices, got {batch.dtype}")
    if nodes is not None and batch.shape[0] != nodes.shape[0]:
        raise InputError(
            "GEO612",
            "batch",
            f"has {batch.shape[0]} entries but the inputs have N = {nodes.shape[0]} nodes",
        )
    if given:
        ok = ((batch >= 0) & (batch < num_graphs)).all()
        why = "graph indices must lie in [0, num_graphs)"
        _require(ok, "GEO615", "batch", why, lambda: f" = [0, {num_graphs})")
    else:
        _require((batch >= 0).all(), "GEO615", "batch", "graph indices must be >= 0")


def check_per_graph(
    x: object,
    name: str,
    width: int,
    described: str,
    like: Tensor | None,
    batch: Tensor | None,
    num_graphs: int | Tensor | None,
) -> None:
    """A global input of a domain of graphs: ``[C]``, one value shared by every graph, or one
    row per graph, ``[num_graphs, C]`` (``[1, C]`` without a ``batch``; run after
    :func:`check_graphs`)."""
    if isinstance(x, Tensor) and x.ndim == 1:
        check_value(x, name, (width,), described, like)
        return
    if batch is None:
        count = 1
    elif num_graphs is None and not _on_host(batch):  # the count lies on the device
        if isinstance(x, Tensor) and x.ndim == 2 and batch.numel():
            rows = f"expected one row per graph, [batch.max() + 1, {width}] ({described})"
            _require(batch.amax() + 1 == x.shape[0], "GEO611", name, rows)
        check_value(x, name, ("num_graphs", width), described, like)
        return
    else:  # given, or read off the batch as the module itself does
        count = (
            num_graphs if num_graphs is not None else int(batch.max()) + 1 if batch.numel() else 1
        )
    if isinstance(x, Tensor) and x.ndim == 2 and x.shape[0] != count:
        raise InputError(
            "GEO611",
            name,
            f"expected [num_graphs, {width}] = [{count}, {width}] ({described}, one row per "
            f"graph) or [{width}] (one value shared by every graph), got {_shown(x.shape)}",
        )
    check_value(x, name, ("num_graphs", width), described, like)


def check_batched_global(
    x: object, name: str, width: int, described: str, like: Tensor | None
) -> None:
    """A global input of a domain whose values lead with their sample: ``[B, C]`` per sample
    or ``[C]`` shared by every sample."""
    one = isinstance(x, Tensor) and x.ndim == 1
    check_value(x, name, (width,) if one else ("B", width), described, like)

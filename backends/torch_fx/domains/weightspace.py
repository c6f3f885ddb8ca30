"""Numeric symmetry checks on weight spaces (``weightspace(mlp=[...])``, ``cnn=[...]``), for
``geoc check``.

Each trial permutes the neurons of **every** hidden layer at once (Navon et al., ICML 2023): new
neuron ``j`` of layer ``k`` is old neuron ``σ_k[j]``, so ``W_k`` loses rows, ``b_k`` entries and
``W_{k+1}`` columns consistently: ``W_i'[j, l] = W_i[σ_i[j], σ_{i-1}[l]]``, ``b_i'[j] =
b_i[σ_i[j]]`` (``σ_0``, ``σ_L`` the identity). The inputs, lists ``[W_1, b_1, ..., W_L, b_L]``,
are moved layer by layer like that; values inside the module (and outputs over ``weights``,
packed back) are ``[batch, P, c]`` and move by the same element written as one permutation of
the flat axis (``WeightSpace.flat_permutation``), so the generic law of ``verify.transform``
applies to every IR value. Global values (``dws_pool`` and after) must not move at all. Conv
kernels move the same way on their channel axes (never on the ``k x k`` offsets); layers joined
by a skip move by one permutation. With ``padded=true`` trial ``t`` draws true widths (seeded by
``t``, shared by the sample and the element, one for the batch), zero-pads the networks to the
declared maxima and permutes the true neurons only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.domains import DomainRules, Sample
from geoc.backends.torch_fx.weightspace.kernels import pack
from geoc.domains import HIDDEN_AXIS, WEIGHTS_AXIS, DomainKind
from geoc.groups import GroupElement
from geoc.ir import Graph, Port
from geoc.ops.weightspace import WeightSpace, is_weight_value

if TYPE_CHECKING:
    from torch import fx

    from geoc.backends.torch_fx.lower import LowerCtx

NETWORK_BATCH = 2  # networks per call: no kernel may mix the networks of a batch


def trial_widths(space: WeightSpace, trial: int) -> dict[int, int] | None:
    """The true hidden widths of trial ``trial`` (None without padding)."""
    return space.random_widths(np.random.default_rng(trial)) if space.padded else None


def draw_weightspace_inputs(
    ir: Graph, rng: np.random.Generator, dtype: torch.dtype, graphs: int = 1, trial: int = 0
) -> tuple[dict[str, Any], dict[str, int]]:
    """Random inputs (a batch of ``max(graphs, NETWORK_BATCH)`` networks) and the length of the
    permuted flat axis: weight-space inputs as layer lists (zero-padded past the trial's widths,
    which follow as the last tensor), global inputs ``[batch, width]``."""
    space = WeightSpace.of(ir.domain)
    widths = trial_widths(space, trial)
    batch = max(graphs, NETWORK_BATCH)
    inputs: dict[str, Any] = {}
    for name, port in ir.inputs.items():
        width = ir.group.type_dim(port.type)
        if is_weight_value(port.type):
            layers = [_normal(rng, (batch, *s, width), dtype) for s in space.shapes]
            inputs[name] = layers if widths is None else _padded(space, layers, widths, batch)
        else:
            inputs[name] = _normal(rng, (batch, width), dtype)
    return inputs, {WEIGHTS_AXIS: space.size}


def _padded(
    space: WeightSpace, layers: list[Tensor], widths: dict[int, int], batch: int
) -> list[Tensor]:
    """``layers`` zero past ``widths``, then the widths tensor ``[batch, hidden layers]``."""
    out = []
    for layer, block in zip(layers, space.blocks, strict=True):
        keep = torch.ones(block.shape, dtype=torch.bool)
        for axis, k in enumerate(block.layers):
            if k in widths:
                keep.narrow(axis, widths[k], block.shape[axis] - widths[k]).fill_(False)
        out.append(layer * keep.reshape(1, *block.shape, 1).to(layer.dtype))
    table = torch.tensor([[widths[k] for k in sorted(widths)]] * batch, dtype=torch.long)
    return [*out, table.reshape(batch, len(widths))]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    return torch.as_tensor(rng.normal(size=shape)).to(dtype)


def draw_neuron_permutation(ir: Graph, rng: np.random.Generator, trial: int = 0) -> GroupElement:
    """A random element permuting every hidden layer (never the identity on a layer it
    permutes; tied layers alike; within the trial's true widths when padded); the identity
    under ``symmetry trivial``."""
    if HIDDEN_AXIS not in ir.group.permuted_axes:
        return GroupElement(label="identity")
    space = WeightSpace.of(ir.domain)
    return neuron_permutation(space, space.random_permutations(rng, trial_widths(space, trial)))


def neuron_permutation(space: WeightSpace, perms: Mapping[int, np.ndarray]) -> GroupElement:
    """The group element permuting layer ``k``'s neurons by ``perms[k]``: its flat-axis form
    under ``weights``, and all hidden neurons (layer by layer, one block each) under
    ``hidden``."""
    hidden = []
    for k in range(1, space.depth):
        perm = np.asarray(perms.get(k, np.arange(space.sizes[k])))
        hidden.append(perm + sum(space.sizes[1:k]))
    flat = space.flat_permutation(dict(perms))
    joined = np.concatenate(hidden) if hidden else np.zeros(0, dtype=np.int64)
    return GroupElement(permutations={WEIGHTS_AXIS: flat, HIDDEN_AXIS: joined}, label="random")


def layer_permutations(space: WeightSpace, element: GroupElement) -> dict[int, np.ndarray]:
    """Per hidden layer, its neuron permutation, read back from the element's ``hidden`` one."""
    joined = element.permutations.get(HIDDEN_AXIS)
    out = {}
    for k in range(1, space.depth):
        start = sum(space.sizes[1:k])
        if joined is not None and len(joined):
            out[k] = np.asarray(joined[start : start + space.sizes[k]]) - start
        else:
            out[k] = np.arange(space.sizes[k])
    return out


def permute_layers(
    layers: list[Tensor], space: WeightSpace, perms: Mapping[int, np.ndarray]
) -> list[Tensor]:
    """``[W_1, b_1, ...]`` (or ``[K_1, b_1, ..., W_head, b_head]``) with the neurons of each
    hidden layer ``k`` permuted by ``perms[k]``: rows of ``W_k`` / ``K_k``, entries of ``b_k``,
    columns (input channels) of the next weight; kernel offsets stay. A trailing widths tensor
    (padding) stays as it is."""
    out = []
    for value, block in zip(layers, space.blocks, strict=False):
        for axis, k in enumerate(block.layers):
            if k in perms:
                index = torch.as_tensor(np.asarray(perms[k]), dtype=torch.long, device=value.device)
                value = value.index_select(axis + 1, index)
        out.append(value)
    return out + list(layers[len(space.blocks) :])


def move_inputs(ir: Graph, sample: Sample, element: GroupElement) -> dict[str, Any]:
    """``g·x``: weight-space inputs permuted layer by layer; global inputs stay."""
    space = WeightSpace.of(ir.domain)
    perms = layer_permutations(space, element)
    inputs = sample.inputs
    moved = dict(inputs)
    for name, port in ir.inputs.items():
        if is_weight_value(port.type):
            moved[name] = permute_layers(list(inputs[name]), space, perms)
    return moved


def packed_outputs(ir: Graph, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs over ``weights`` (layer lists) as ``[batch, P, c]``, for the generic law."""
    shapes = WeightSpace.of(ir.domain).shapes
    out = dict(outputs)
    for name, port in ir.outputs.items():
        if is_weight_value(port.type):
            out[name] = pack(list(outputs[name]), shapes, ir.group.type_dim(port.type))
    return out


def weightspace_law(ir: Graph) -> str:
    """What the trials moved, for the report."""
    if HIDDEN_AXIS not in ir.group.permuted_axes:
        return ""
    space = WeightSpace.of(ir.domain)
    named = ", ".join(map(str, sorted(space.permuted))) or "none"
    what = "channels" if space.conv else "neurons"
    law = (
        f"random permutations of the {what} of every hidden layer at once (layers {named}: "
        "rows of W_k / K_k, entries of b_k, columns of the next weight"
    )
    if space.skips:
        law += f"; tied across the skips into layers {', '.join(map(str, space.skips))}"
    if space.padded:
        law += "; true widths drawn per trial, the padding fixed"
    return law + "); checked to the tolerance above"


def _draw_sample(
    ir: Graph, rng: np.random.Generator, nodes: int, graphs: int, dtype: torch.dtype, trial: int
) -> Sample:
    return Sample(*draw_weightspace_inputs(ir, rng, dtype, graphs, trial))


def _draw_element(
    ir: Graph, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    return draw_neuron_permutation(ir, rng, trial)


def _lower_inputs(ctx: LowerCtx) -> None:
    from geoc.backends.torch_fx.weightspace.lower import pack_inputs

    pack_inputs(ctx)  # a batch of networks leads every value


def _lower_output(ctx: LowerCtx, port: Port) -> fx.Node:
    from geoc.backends.torch_fx.weightspace.lower import output_value

    return output_value(ctx, port)  # outputs over `weights` go back to per-layer lists


def check_inputs(ctx: LowerCtx, like: fx.Node | None) -> None:
    """Weight-space inputs: the list ``[W_1, b_1, ...]`` of ``[B, *shape, C]`` tensors (then,
    padded, the widths ``[B, hidden layers]``, integers from 1 to each maximum, tied layers
    alike); global inputs ``[B, C]`` or ``[C]``; one ``B`` for all."""
    from geoc.backends.torch_fx.common import validate_kernels as rtv
    from geoc.backends.torch_fx.validate import check, described

    space = WeightSpace.of(ctx.ir.domain)
    names = list(ctx.ir.inputs)
    for name, port in ctx.ir.inputs.items():
        x, width, text = ctx.inputs[name], ctx.group.type_dim(port.type), described(ctx, port.type)
        if is_weight_value(port.type) and space.padded:
            dims = [("B", *s, width) for s in space.shapes]
            maxima = tuple(space.sizes[1:-1])
            ties = tuple(space.tied[k] - 1 for k in range(1, space.depth))
            check(ctx, rtv.check_padded_layers, x, name, dims, text, like, maxima, ties)
        elif is_weight_value(port.type):
            dims = [("B", *s, width) for s in space.shapes]
            check(ctx, rtv.check_layers, x, name, dims, text, like)
        else:
            check(ctx, rtv.check_batched_global, x, name, width, text, like)
    if len(names) > 1:
        check(ctx, rtv.check_agree, [ctx.inputs[n] for n in names], names, 0, "networks")
    padded = [n for n, p in ctx.ir.inputs.items() if space.padded and is_weight_value(p.type)]
    if len(padded) > 1:  # every layer masks by one table: the first input's
        check(ctx, rtv.check_same_widths, [ctx.inputs[n] for n in padded], padded)


RULES = {
    DomainKind.WEIGHTSPACE: DomainRules(
        lower_inputs=_lower_inputs,
        draw_sample=_draw_sample,
        draw_element=_draw_element,
        move_inputs=move_inputs,
        exact_law=weightspace_law,
        lower_output=_lower_output,
        unpack_outputs=packed_outputs,
        check_inputs=check_inputs,
    )
}

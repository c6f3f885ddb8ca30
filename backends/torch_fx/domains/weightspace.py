"""Numeric symmetry checks on weight spaces (``weightspace(mlp=[...])``), for ``geoc check``.

Each trial permutes the neurons of **every** hidden layer at once (Navon et al., ICML 2023): new
neuron ``j`` of layer ``k`` is old neuron ``σ_k[j]``, so ``W_k`` loses rows, ``b_k`` entries and
``W_{k+1}`` columns consistently: ``W_i'[j, l] = W_i[σ_i[j], σ_{i-1}[l]]``, ``b_i'[j] =
b_i[σ_i[j]]`` (``σ_0``, ``σ_L`` the identity). The inputs, lists ``[W_1, b_1, ..., W_L, b_L]``,
are moved layer by layer like that; values inside the module (and outputs over ``weights``,
packed back) are ``[batch, P, c]`` and move by the same element written as one permutation of
the flat axis (``WeightSpace.flat_permutation``), so the generic law of ``verify.transform``
applies to every IR value. Global values (``dws_pool`` and after) must not move at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from geoc.backends.torch_fx.domains import DomainRules, Sample
from geoc.backends.torch_fx.weightspace.kernels import layer_shapes, pack
from geoc.domains import HIDDEN_AXIS, WEIGHTS_AXIS, DomainKind
from geoc.groups import GroupElement
from geoc.ir import Graph, Port
from geoc.ops.weightspace import WeightSpace, is_weight_value

if TYPE_CHECKING:
    from torch import fx

    from geoc.backends.torch_fx.lower import LowerCtx

NETWORK_BATCH = 2  # networks per call: no kernel may mix the networks of a batch


def draw_weightspace_inputs(
    ir: Graph, rng: np.random.Generator, dtype: torch.dtype, graphs: int = 1
) -> tuple[dict[str, Any], dict[str, int]]:
    """Random inputs (a batch of ``max(graphs, NETWORK_BATCH)`` networks) and the length of the
    permuted flat axis: weight-space inputs as layer lists, global inputs ``[batch, width]``."""
    space = WeightSpace.of(ir.domain)
    batch = max(graphs, NETWORK_BATCH)
    inputs: dict[str, Any] = {}
    for name, port in ir.inputs.items():
        width = ir.group.type_dim(port.type)
        if is_weight_value(port.type):
            shapes = layer_shapes(space.sizes)
            inputs[name] = [_normal(rng, (batch, *s, width), dtype) for s in shapes]
        else:
            inputs[name] = _normal(rng, (batch, width), dtype)
    return inputs, {WEIGHTS_AXIS: space.size}


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    return torch.as_tensor(rng.normal(size=shape)).to(dtype)


def draw_neuron_permutation(ir: Graph, rng: np.random.Generator) -> GroupElement:
    """A random element permuting every hidden layer (never the identity on a layer it
    permutes); the identity under ``symmetry trivial``."""
    if HIDDEN_AXIS not in ir.group.permuted_axes:
        return GroupElement(label="identity")
    space = WeightSpace.of(ir.domain)
    return neuron_permutation(space, space.random_permutations(rng))


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
    """``[W_1, b_1, ...]`` with the neurons of each hidden layer ``k`` permuted by
    ``perms[k]``: rows of ``W_k``, entries of ``b_k``, columns of ``W_{k+1}``."""

    def index(layer: int, like: Tensor) -> Tensor:
        perm = perms.get(layer, np.arange(space.sizes[layer]))
        return torch.as_tensor(np.asarray(perm), dtype=torch.long, device=like.device)

    out = []
    for position, value in enumerate(layers):
        i = position // 2 + 1
        moved = value.index_select(1, index(i, value))
        if position % 2 == 0:  # W_i: its columns are the neurons of layer i - 1
            moved = moved.index_select(2, index(i - 1, value))
        out.append(moved)
    return out


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
    sizes = WeightSpace.of(ir.domain).sizes
    out = dict(outputs)
    for name, port in ir.outputs.items():
        if is_weight_value(port.type):
            out[name] = pack(list(outputs[name]), sizes, ir.group.type_dim(port.type))
    return out


def weightspace_law(ir: Graph) -> str:
    """What the trials moved, for the report."""
    if HIDDEN_AXIS not in ir.group.permuted_axes:
        return ""
    layers = sorted(WeightSpace.of(ir.domain).permuted)
    named = ", ".join(map(str, layers)) or "none"
    return (
        f"random permutations of the neurons of every hidden layer at once (layers {named}: "
        "rows of W_k, entries of b_k, columns of W_k+1); checked to the tolerance above"
    )


def _draw_sample(
    ir: Graph, rng: np.random.Generator, nodes: int, graphs: int, dtype: torch.dtype, trial: int
) -> Sample:
    return Sample(*draw_weightspace_inputs(ir, rng, dtype, graphs))


def _draw_element(
    ir: Graph, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    return draw_neuron_permutation(ir, rng)


def _lower_inputs(ctx: LowerCtx) -> None:
    from geoc.backends.torch_fx.weightspace.lower import pack_inputs

    pack_inputs(ctx)  # a batch of networks leads every value


def _lower_output(ctx: LowerCtx, port: Port) -> fx.Node:
    from geoc.backends.torch_fx.weightspace.lower import output_value

    return output_value(ctx, port)  # outputs over `weights` go back to per-layer lists


def check_inputs(ctx: LowerCtx, like: fx.Node | None) -> None:
    """Weight-space inputs: the list ``[W_1, b_1, ...]`` of ``[B, d_i, d_(i-1), C]`` and
    ``[B, d_i, C]`` tensors; global inputs ``[B, C]`` or ``[C]``; one ``B`` for all."""
    from geoc.backends.torch_fx.common import validate_kernels as rtv
    from geoc.backends.torch_fx.validate import check, described

    shapes = layer_shapes(WeightSpace.of(ctx.ir.domain).sizes)
    names = list(ctx.ir.inputs)
    for name, port in ctx.ir.inputs.items():
        x, width, text = ctx.inputs[name], ctx.group.type_dim(port.type), described(ctx, port.type)
        if is_weight_value(port.type):
            dims = [("B", *s, width) for s in shapes]
            check(ctx, rtv.check_layers, x, name, dims, text, like)
        else:
            check(ctx, rtv.check_batched_global, x, name, width, text, like)
    if len(names) > 1:
        check(ctx, rtv.check_agree, [ctx.inputs[n] for n in names], names, 0, "networks")


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

"""Train and eval modes of modules with running statistics (``spd_batch_norm``), for
``geoc check``.

In training mode a batch norm centres at the batch's own mean, an equivariant function of the
batch; in eval mode at its running mean, a fixed matrix that congruence ``X -> Q X Qᵀ`` does
not move. ``geoc check`` checks a module in the mode it is in (compiled modules start in
training mode, as every ``nn.Module`` does): in eval mode under a group with rotations there is
no claim to check, which is ``GEO418``; reorderings alone are checked in either mode.
"""

from __future__ import annotations

from torch import fx

from geoc.diagnostics import Diagnostic, GeoError
from geoc.groups import Rotations
from geoc.ir import Graph

#: ``module.meta`` key: the IR nodes whose result depends on the module's train/eval mode.
MODE_DEPENDENT = "geoc_mode_dependent"


def mode_checked(module: fx.GraphModule, ir: Graph) -> fx.GraphModule:
    """``module``, or a copy of it where it keeps running statistics (the trials must not move
    the caller's); ``GEO418`` in eval mode under rotations, where it is not equivariant."""
    from geoc.backends.torch_fx.verify.params import copy_with  # verify imports this package

    nodes = module.meta.get(MODE_DEPENDENT, [])
    if not nodes:
        return module
    if not module.training and ir.group.rotations is not Rotations.NONE:
        node = next(n for n in ir.nodes if n.id == nodes[0])
        raise GeoError(
            Diagnostic(
                "GEO418",
                f"the module is in eval mode: `{node.op}` centres at its running mean, which "
                f"{ir.group} does not move, so there is no rotation claim to check",
                node.span,
                label="running statistics",
                help="check in training mode (`module.train()`), where batch statistics make "
                "it equivariant; eval mode is equivariant to reordering only",
            )
        )
    return copy_with(module, lambda name, value: value.clone())

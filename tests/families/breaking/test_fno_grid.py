"""`grid_coords` and the built-in `fno_grid` against neuraloperator 2.0.0: the coordinates of
its `GridEmbeddingND` bit for bit, and its default `FNO` (grid positional embedding) with the
same weights copied in, to 1e-6 in float32."""

from __future__ import annotations

import pytest
import torch

import geoc
from geoc.catalog import builtin_spec

neuralop = pytest.importorskip("neuralop")

PARAMS = {"channels": 2, "width": 8, "hidden": 4, "modes": 4, "depth": 3, "out": 3}
GRID = "domain torus(64, 64)"


def fno_grid_text(grid: tuple[int, int]) -> str:
    text = builtin_spec("fno_grid").read_text()
    assert GRID in text
    return text.replace(GRID, f"domain torus({grid[0]}, {grid[1]})")


@pytest.mark.parametrize("grid", [(16, 12), (7, 9)])
def test_grid_coords_equal_neuraloperator_grid_embedding(grid):
    from neuralop.layers.embeddings import GridEmbeddingND

    module = geoc.compile(
        f"""model G() {{
    symmetry T(2)
    breaks T(2) by grid
    domain torus({grid[0]}, {grid[1]})
    input a: 3 x scalar over torus
    grid = grid_coords(a)
    output g: 2 x scalar over torus = grid
}}"""
    )
    a = torch.randn(2, 3, *grid)
    want = GridEmbeddingND(in_channels=3, dim=2, grid_boundaries=[[0.0, 1.0]] * 2)(a)[:, 3:]
    got = module(a=a)["g"]
    assert got.dtype == torch.float32
    assert torch.equal(got, want)


def spectral_weight(weight: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """geoc's Fourier weight (channel- or mode-major, (re, im) pairs; first-dimension modes
    ``0..m-1, -m..-1``) as neuraloperator's ``[in, out, 2m, m']``, its modes centred."""
    weight = torch.view_as_complex(weight.contiguous())
    a, b, *modes = shape
    if tuple(weight.shape) != (a, b, *modes):
        weight = weight.permute(2, 3, 0, 1)
    assert tuple(weight.shape) == (a, b, *modes), (weight.shape, shape)
    m = weight.shape[2] // 2
    return torch.cat([weight[:, :, m:], weight[:, :, :m]], dim=2)


def copy_into(anchor: torch.nn.Module, module: torch.fx.GraphModule, depth: int) -> None:
    """The spec's parameters into neuraloperator's FNO, by the names the spec gives them (a
    two-layer `linear(act(linear(...)))` bound to `z` names its first layer `z.act.linear`); the
    soft-gating skip is a per-channel scale there, the diagonal of the spec's bias-free linear
    (whose off-diagonal is zeroed here)."""
    params = dict(module.named_parameters())

    def put(target: torch.Tensor, name: str, shape: tuple[int, ...] | None = None) -> None:
        value = params.pop(name).detach()
        value = value.reshape(shape or target.shape)
        assert target.numel() == value.numel(), (name, tuple(value.shape), tuple(target.shape))
        with torch.no_grad():
            target.copy_(value)

    def two_layers(fcs: torch.nn.ModuleList, name: str) -> None:
        for fc, layer in zip(fcs, (f"{name}.act.linear", name), strict=True):
            put(fc.weight, f"{layer}.weight")
            put(fc.bias, f"{layer}.bias")

    two_layers(anchor.lifting.fcs, "z")
    blocks = anchor.fno_blocks
    for i, conv in enumerate(blocks.convs):
        last = i == depth - 1
        prefix = "" if last else f"layers.{i}."
        fourier = f"{prefix}x.spectral_conv" if last else f"{prefix}x.add.spectral_conv"
        skip = fourier.removesuffix("spectral_conv") + "linear"
        weight = params.pop(f"{fourier}.weight").detach()
        with torch.no_grad():
            conv.weight.tensor.copy_(spectral_weight(weight, tuple(conv.weight.tensor.shape)))
        put(blocks.fno_skips[i].conv.weight, f"{skip}.weight")
        put(conv.bias, f"{skip}.bias")
        two_layers(blocks.channel_mlp[i].fcs, f"{prefix}channel_mlp.y")
        gate = dict(module.named_parameters())[f"{prefix}channel_mlp.return_.linear.weight"]
        with torch.no_grad():
            gate.copy_(torch.diag(torch.diagonal(gate)))  # a per-channel scale
            blocks.channel_mlp_skips[i].weight.copy_(torch.diagonal(gate)[None, :, None, None])
        params.pop(f"{prefix}channel_mlp.return_.linear.weight")
    two_layers(anchor.projection.fcs, "u")
    assert not params, f"parameters the anchor lacks: {list(params)}"


def both_outputs(
    p: dict[str, int], grid: tuple[int, int], batch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """neuraloperator's default FNO (grid embedding) and the spec with its weights copied in,
    on one random input: (neuraloperator's output, geoc's)."""
    from neuralop.models import FNO

    torch.manual_seed(0)
    anchor = FNO(
        n_modes=(2 * p["modes"], 2 * p["modes"] - 2),
        hidden_channels=p["width"],
        in_channels=p["channels"],
        out_channels=p["out"],
        n_layers=p["depth"],
        positional_embedding="grid",
    )
    module = geoc.compile(fno_grid_text(grid), params=p, optimize="ir")
    copy_into(anchor, module, p["depth"])
    a = torch.randn(batch, p["channels"], *grid)
    with torch.no_grad():
        return anchor(a), module(a=a)["u"]


@pytest.mark.parametrize("grid", [(16, 16), (20, 12)])
def test_fno_grid_equals_neuraloperator_fno(grid):
    want, got = both_outputs(PARAMS, grid, batch=3)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-6 * max(want.abs().max().item(), 1.0)


def measure(grid: tuple[int, int] = (64, 64), batch: int = 4) -> tuple[float, float]:
    """The built-in spec at its default size against neuraloperator's FNO with the same weights:
    the max absolute difference of the outputs and their max size (docs/spectral.md)."""
    p = {"channels": 1, "width": 32, "hidden": 16, "modes": 12, "depth": 4, "out": 1}
    want, got = both_outputs(p, grid, batch)
    return (got - want).abs().max().item(), want.abs().max().item()


if __name__ == "__main__":  # python tests/families/breaking/test_fno_grid.py
    error, scale = measure()
    print(
        f"fno_grid vs neuralop FNO (64x64, float32): max abs error {error:.1e}, max |u| {scale:.1e}"
    )

"""geoc's compiled FNO and SFNO against neuraloperator's FNO and torch-harmonics' SFNO,
forward + backward.

    python bench/spectral.py                       # CPU, 2 threads, float32, eager
    python bench/spectral.py --device cuda         # the same configurations on a GPU
    python bench/spectral.py --compile             # adds torch.compile (inductor) rows
    python bench/spectral.py --json spectral.json  # the rows as JSON too

One run times, for each configuration, three contenders: the compiled built-in spec
(``specs/fno.geo``, ``specs/sfno.geo``: row ``geoc``), the anchor library's own model of the
same architecture and size (neuraloperator 2.0.0 ``neuralop.models.FNO``, torch-harmonics 0.8.0
``torch_harmonics.examples.models.SphericalFourierNeuralOperator``, configured as
:func:`fno_anchor` and :func:`sfno_anchor` document), and a spec written to be exactly the
anchor's architecture (:data:`MATCHED`, row ``geoc matched``). The built-in specs differ from
the anchors in a few cheap pointwise steps (where an activation is applied, two biases) and
in the SFNO filter (real in geoc, complex in torch-harmonics: see :func:`copy_sfno_weights`); the
matched spec removes those differences: before anything is timed, its weights are copied into
the anchor and the two outputs must agree (float32, relative 1e-4), which proves that both
sides compute the same function with the same parameters. The ``sfno+mlp`` configuration
times torch-harmonics' default block (``use_mlp=True``: ``x + MLP(conv(x))``), which no built-in
spec has, against its matched spec only.

A step is ``loss = model(x).square().mean(); loss.backward()``, gradients reset before each
step. The contenders run in alternation, round after round (``bench/timing.py``), so load from
other processes hits them alike; the table gives the median (and best) of the rounds and the
ratio anchor / geoc of medians (above 1: geoc is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch
from timing import bench_parser, time_alternating  # bench/timing.py

import geoc
from geoc.catalog import builtin_spec


@dataclass(frozen=True)
class Config:
    """One benchmark case: a built-in spec, its parameters, the batch and the grid."""

    name: str
    spec: str  # "fno" | "sfno"
    batch: int
    grid: tuple[int, int]
    params: dict[str, int]
    mlp: bool = False  # sfno: torch-harmonics' default block (use_mlp=True), no built-in row


FNO_PARAMS = {"channels": 1, "out": 1, "width": 32, "modes": 12, "depth": 4}
CONFIGS = (
    Config("fno 64x64", "fno", 8, (64, 64), FNO_PARAMS),
    Config("sfno 32x64", "sfno", 4, (32, 64), {"channels": 3, "width": 32, "depth": 4}),
    Config("sfno 64x128", "sfno", 4, (64, 128), {"channels": 3, "width": 32, "depth": 4}),
    Config("sfno+mlp 32x64", "sfno", 4, (32, 64), {"channels": 3, "width": 32, "depth": 4}, True),
)


def sfno_matched(name: str, layer: str) -> str:
    """torch-harmonics' SFNO as a spec named ``name``: an encoder and decoder without bias
    around ``depth`` repetitions of ``layer`` (its lines, indented)."""
    indent = " " * len(f"model {name}(")
    return f"""
model {name}(channels: int = 3, width: int = 32, depth: int = 4, nlat: int = 32,
{indent}nlon: int = 64) {{
    symmetry SO(3)
    domain sphere(nlat=nlat, nlon=nlon, grid=equiangular)
    input u: channels x scalar over sphere
    z = linear(u, width x scalar, bias=false)
    repeat depth {{
{layer}
    }}
    output v: channels x scalar over sphere = linear(z, channels x scalar, bias=false)
}}
"""


#: Each anchor's exact architecture as a spec: its output equals the anchor's with the same
#: weights (checked before timing), so its row is the like-for-like comparison.
MATCHED = {
    # neuraloperator 2.0.0, use_channel_mlp=False: gelu(gelu(K z + W z + b)) in every layer but
    # the last (its block applies the activation after the skip sum and again after the absent
    # channel MLP) and no activation after the last (as in Li et al.'s code).
    "fno": """
model FNOMatched(channels: int = 1, width: int = 32, modes: int = 12, depth: int = 4,
                 out: int = 1) {
    symmetry T(2)
    domain torus(64, 64)
    input a: channels x scalar over torus
    z = linear(a, width x scalar)
    repeat depth - 1 {
        z = act(spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar), gelu)
        z = act(z, gelu)
    }
    z = spectral_conv(z, width x scalar, modes=modes) + linear(z, width x scalar)
    output u: out x scalar over torus = linear(act(linear(z, 128 x scalar), gelu), out x scalar)
}
""",
    # torch-harmonics 0.8.0, use_mlp=False: z + isht(W_l sht(z)), no activation (0.8.0 applies
    # it only inside the MLP); encoder and decoder without bias (the model's bias=False).
    "sfno": sfno_matched("SFNOMatched", "        z = z + sfno_conv(z, width x scalar)"),
    # torch-harmonics 0.8.0, use_mlp=True, mlp_ratio=2 (its default block): z + MLP(conv(z)),
    # MLP = 1x1 (width -> 2 width, bias) -> gelu -> 1x1 (2 width -> width, no bias).
    "sfno+mlp": sfno_matched(
        "SFNOMlpMatched",
        "        h = act(linear(sfno_conv(z, width x scalar), 2 * width x scalar), gelu)\n"
        "        z = z + linear(h, width x scalar, bias=false)",
    ),
}


@dataclass
class Row:
    config: str
    impl: str
    params: int  # trainable real numbers (a complex weight counts twice)
    median_ms: float
    best_ms: float
    ratio: float | None = None  # anchor median / this median, for geoc rows
    note: str = ""


@dataclass
class Case:
    """The contenders of one configuration, by row name: each module (whose gradients a step
    resets) and the function of the field that runs it (compiled or not)."""

    modules: dict[str, torch.nn.Module] = field(default_factory=dict)
    calls: dict[str, Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def spec_source(config: Config) -> str:
    """The built-in spec's text on the configuration's grid.

    ``fno`` runs on any grid (its weights are per mode); ``sfno`` builds its Legendre tables
    for the declared grid, so another grid is declared by editing the ``domain`` line unless
    the spec takes ``nlat`` / ``nlon`` parameters.
    """
    text = builtin_spec(config.spec).read_text()
    if config.spec == "sfno" and "nlat: int" not in text:
        nlat, nlon = config.grid
        text = text.replace("sphere(nlat=32, nlon=64,", f"sphere(nlat={nlat}, nlon={nlon},")
        assert f"nlat={nlat}" in text, "specs/sfno.geo: domain line not found"
    return text


def spec_params(config: Config, text: str) -> dict[str, int]:
    params = dict(config.params)
    if config.spec == "sfno" and "nlat: int" in text:
        params["nlat"], params["nlon"] = config.grid
    return params


def matched_params(config: Config) -> dict[str, int]:
    params = dict(config.params)
    if config.spec == "sfno":
        params["nlat"], params["nlon"] = config.grid
    return params


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


# --- the anchors ------------------------------------------------------------------------------


def fno_anchor(config: Config) -> torch.nn.Module:
    """neuraloperator's FNO with the architecture of ``specs/fno.geo``.

    * ``n_modes=(2 m, 2 m - 2)``: neuraloperator counts the modes of a dimension in total,
      centred on frequency 0 (``2 m`` keeps ``-m .. m-1``, as geoc's ``modes=m``), and on the
      last (real-FFT) dimension keeps ``n // 2 + 1`` of them (``2 m - 2`` keeps ``0 .. m-1``);
    * ``lifting_channel_ratio=0``: the lift is one 1x1 linear map (with bias), as the spec's;
    * ``projection_channel_ratio=128 / width``: the projection is linear -> gelu -> linear
      through 128 channels, as the spec's;
    * ``positional_embedding=None``: no grid coordinates appended (the spec is shift-equivariant);
    * ``use_channel_mlp=False``, ``norm=None``, ``fno_skip="linear"`` (a 1x1 map, no bias: the
      bias of the layer is the spectral convolution's, one per channel as the spec's ``linear``
      has), ``factorization=None`` (dense complex weights), ``preactivation=False``,
      ``domain_padding=None``, full precision.

    Same parameters, one difference in the pointwise steps: with ``use_channel_mlp=False``
    neuraloperator 2.0.0 applies gelu twice in every layer but the last (after the skip sum and
    again after the absent channel MLP) and none after the last; the spec applies it once per
    layer (see :data:`MATCHED`).
    """
    from neuralop.models import FNO

    p = config.params
    return FNO(
        n_modes=(2 * p["modes"], 2 * p["modes"] - 2),
        in_channels=p["channels"],
        out_channels=p["out"],
        hidden_channels=p["width"],
        n_layers=p["depth"],
        lifting_channel_ratio=0,
        projection_channel_ratio=128 / p["width"],
        positional_embedding=None,
        non_linearity=torch.nn.functional.gelu,
        norm=None,
        use_channel_mlp=False,
        fno_skip="linear",
        factorization=None,
        preactivation=False,
        domain_padding=None,
        fno_block_precision="full",
    )


def sfno_anchor(config: Config) -> torch.nn.Module:
    """torch-harmonics' SFNO with the size of ``specs/sfno.geo``.

    * ``grid=grid_internal="equiangular"``, ``scale_factor=1``: every layer on the input grid;
    * ``hard_thresholding_fraction``: chosen so that its transforms keep ``lmax = mmax =
      (nlat + 1) // 2``, geoc's exact degree on an equiangular grid (torch-harmonics' default
      keeps ``lmax = nlat``); checked below;
    * ``embed_dim=width``, ``num_layers=depth``, ``encoder_layers=1`` (one 1x1 map in and one
      out), ``use_mlp=False`` (no channel MLP in the blocks; ``True`` with ``mlp_ratio=2`` for
      the ``sfno+mlp`` configuration, its default block), ``normalization_layer="none"``,
      ``pos_embed="none"``, ``residual_prediction=False``, ``bias=False``, no dropout. Its
      blocks then compute ``x + isht(W_l sht(x))`` (outer skip identity, no inner skip, no
      activation: 0.8.0 applies the activation only inside the MLP).

    Its per-degree filter ``W_l`` is complex, geoc's real (see :func:`copy_sfno_weights`), so
    the anchor has twice the filter parameters: the same number of spectral coefficients and
    channels, and twice the filter arithmetic on the anchor's side.
    """
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    p, (nlat, nlon) = config.params, config.grid
    lmax = (nlat + 1) // 2
    model = SphericalFourierNeuralOperator(
        img_size=(nlat, nlon),
        grid="equiangular",
        grid_internal="equiangular",
        scale_factor=1,
        in_chans=p["channels"],
        out_chans=p["channels"],
        embed_dim=p["width"],
        num_layers=p["depth"],
        activation_function="gelu",
        encoder_layers=1,
        use_mlp=config.mlp,
        mlp_ratio=2.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        normalization_layer="none",
        hard_thresholding_fraction=lmax / min(nlat, nlon // 2),
        residual_prediction=False,
        pos_embed="none",
        bias=False,
    )
    for sht in (model.trans_down, model.itrans_up, model.trans, model.itrans):
        assert (sht.lmax, sht.mmax) == (lmax, lmax), (sht.lmax, sht.mmax, lmax)
    return model


ANCHORS = {"fno": ("neuralop", fno_anchor), "sfno": ("torch-harmonics", sfno_anchor)}


# --- weights from geoc into the anchor, to prove both compute the same function --------------


def copy_fno_weights(geoc_module: torch.nn.Module, anchor: torch.nn.Module) -> None:
    """The matched FNO spec's parameters, in use order, into neuraloperator's FNO.

    geoc keeps the first-dimension frequencies ``0 .. m-1`` then ``-m .. -1``; neuraloperator
    keeps them centred (``-m .. m-1``, after its fftshift). geoc's per-layer bias is that of its
    ``linear`` skip; neuraloperator's is that of its spectral convolution (the same sum).
    """
    params = parameters_in_use_order(geoc_module)
    lift, blocks, proj = anchor.lifting.fcs[0], anchor.fno_blocks, anchor.projection.fcs
    _set(lift.weight, next(params)[..., None])
    _set(lift.bias, next(params))
    for conv, skip in zip(blocks.convs, blocks.fno_skips, strict=True):
        spectral = channel_major(next(params), tuple(conv.weight.tensor.shape))
        m = spectral.shape[2] // 2
        _set(conv.weight.tensor, torch.cat([spectral[:, :, m:], spectral[:, :, :m]], dim=2))
        _set(skip.conv.weight, next(params)[..., None])
        _set(conv.bias, next(params)[:, None, None])
    for fc in proj:
        _set(fc.weight, next(params)[..., None])
        _set(fc.bias, next(params))
    assert next(params, None) is None, "geoc FNO has parameters the anchor lacks"


def copy_sfno_weights(geoc_module: torch.nn.Module, anchor: torch.nn.Module) -> None:
    """The matched SFNO spec's parameters, in use order, into torch-harmonics' SFNO.

    geoc's degree filter is real (a complex ``w_l`` would act as ``conj(w_l)`` on the orders
    ``m < 0`` the real transform leaves implicit: not rotation-equivariant); torch-harmonics'
    is complex, and equals geoc's with a zero imaginary part.
    """
    params = parameters_in_use_order(geoc_module)
    _set(anchor.encoder[0].weight, next(params)[..., None, None])
    for block in anchor.blocks:
        target = block.global_conv.weight  # [out, in, lmax]
        weight = channel_major(next(params), tuple(target.shape))
        _set(target, weight.to(target.dtype))
        if hasattr(block, "mlp"):
            fc1, _, fc2 = block.mlp.fwd
            _set(fc1.weight, next(params)[..., None, None])
            _set(fc1.bias, next(params))
            _set(fc2.weight, next(params)[..., None, None])
    _set(anchor.decoder[0].weight, next(params)[..., None, None])
    assert next(params, None) is None, "geoc SFNO has parameters the anchor lacks"


def parameters_in_use_order(module: torch.fx.GraphModule) -> Iterator[torch.Tensor]:
    """The module's parameters in the order its code reads them (the spec's order)."""
    params = dict(module.named_parameters())
    for node in module.graph.nodes:
        if node.op == "get_attr" and node.target in params:
            yield params.pop(node.target).detach()


def channel_major(weight: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A geoc spectral weight as the tensor ``[a, b, *modes]`` (complex if stored as (re, im)
    pairs): geoc keeps it either channel-major ``[a, b, *modes]`` or mode-major
    ``[*modes, a, b]``, or ``[*modes, b, a]`` for the real degree filter - the shapes tell
    which (a wrong guess fails the output check)."""
    if weight.shape[-1] == 2 and weight.dim() == len(shape) + 1:
        weight = torch.view_as_complex(weight.contiguous())
    a, b, *modes = shape
    n = len(modes)
    if tuple(weight.shape) == (a, b, *modes):
        return weight
    if tuple(weight.shape) == (*modes, a, b):
        return weight.permute(n, n + 1, *range(n))
    if tuple(weight.shape) == (*modes, b, a):
        return weight.permute(n + 1, n, *range(n))
    raise ValueError(f"geoc weight {tuple(weight.shape)} does not fit [{a}, {b}, *{modes}]")


def _set(target: torch.Tensor, value: torch.Tensor) -> None:
    assert target.shape == value.shape, f"shape {tuple(value.shape)} into {tuple(target.shape)}"
    with torch.no_grad():
        target.copy_(value)


COPY = {"fno": copy_fno_weights, "sfno": copy_sfno_weights}


# --- building and timing ----------------------------------------------------------------------


def geoc_call(module: torch.nn.Module, spec: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The compiled module as a function of the field (its inputs and outputs are by name)."""
    name_in, name_out = {"fno": ("a", "u"), "sfno": ("u", "v")}[spec]
    return lambda x: module(**{name_in: x})[name_out]


def example_input(config: Config, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    shape = (config.batch, config.params["channels"], *config.grid)
    return torch.randn(shape, generator=gen).to(device)


def build_case(config: Config, device: torch.device, compiled: bool) -> Case:
    """geoc (built-in and matched spec) and the anchor, the matched spec checked against it."""
    text = spec_source(config)
    params = spec_params(config, text)
    library, make_anchor = ANCHORS[config.spec]
    anchor = make_anchor(config).to(device)
    matched = MATCHED[config.spec + ("+mlp" if config.mlp else "")]
    geoc_matched = geoc.compile(matched, params=matched_params(config), device=device)
    COPY[config.spec](geoc_matched, anchor)
    x = example_input(config, device)
    with torch.no_grad():
        want, got = anchor(x), geoc_call(geoc_matched, config.spec)(x)
    error = ((got - want).norm() / want.norm()).item()
    if not error < 1e-4:
        raise AssertionError(f"{config.name}: matched spec differs from {library}: {error:.1e}")
    check = f"= {library} with its weights: rel. diff {error:.0e}"
    case = Case()
    if not config.mlp:  # the built-in spec has no MLP variant
        case.modules["geoc"] = geoc.compile(text, params=params, device=device)
        case.notes["geoc"] = f"specs/{config.spec}.geo"
    case.modules["geoc matched"], case.notes["geoc matched"] = geoc_matched, check
    case.modules[library] = anchor
    for impl, module in case.modules.items():
        call = module if impl == library else geoc_call(module, config.spec)
        case.calls[impl] = torch.compile(call) if compiled else call
    return case


def train_step(module: torch.nn.Module, call: Callable, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        call(x).square().mean().backward()

    return run


def measure(config: Config, device: torch.device, rounds: int, compiled: bool) -> list[Row]:
    case = build_case(config, device, compiled)
    x = example_input(config, device)
    runs = {impl: train_step(m, case.calls[impl], x) for impl, m in case.modules.items()}
    times = time_alternating(runs, device, rounds)
    library = ANCHORS[config.spec][0]
    anchor_ms = statistics.median(times[library]) * 1e3
    suffix = " +compile" if compiled else ""
    rows = []
    for impl, t in times.items():
        median, best = statistics.median(t) * 1e3, min(t) * 1e3
        ratio = anchor_ms / median if impl != library else None
        params = count_params(case.modules[impl])
        note = case.notes.get(impl, "")
        rows.append(Row(config.name, impl + suffix, params, median, best, ratio, note))
    return rows


# --- reporting --------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    print(
        f"{'config':<16}{'implementation':<28}{'params':>9}{'median ms':>11}{'best ms':>9}"
        f"{'anchor/geoc':>13}  note"
    )
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        print(
            f"{r.config:<16}{r.impl:<28}{r.params:>9}{r.median_ms:>11.1f}{r.best_ms:>9.1f}"
            f"{ratio:>13}  {r.note}"
        )


def header(args: argparse.Namespace, device: torch.device) -> str:
    import neuralop
    import torch_harmonics

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return (
        f"forward+backward, float32, {args.threads} threads, {device} ({name}); "
        f"torch {torch.__version__}, neuraloperator {neuralop.__version__}, torch-harmonics "
        f"{torch_harmonics.__version__}; {'torch.compile' if args.compile else 'eager'}; "
        f"median (best) of {args.rounds} rounds; load average {load:.2f}"
    )


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    names = [c.name for c in CONFIGS]
    parser.add_argument("--configs", nargs="+", default=names, choices=names)
    parser.add_argument("--compile", action="store_true", help="torch.compile both sides too")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    command = " ".join(["python", *sys.argv])
    print(command)
    print(header(args, device))
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if device.type == "cpu" and busy >= 1.0 and args.threads > 1:
        print(
            f"warning: load average {busy:.1f}: other processes share the cores, and a "
            f"{args.threads}-thread step waits for whichever thread is descheduled; "
            "--threads 1 gives steadier figures"
        )
    rows = []
    for config in (c for c in CONFIGS if c.name in args.configs):
        rows += measure(config, device, args.rounds, compiled=False)
        if args.compile:
            rows += measure(config, device, args.rounds, compiled=True)
    print_table(rows)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"command": command, "header": header(args, device),
                       "rows": [asdict(r) for r in rows]}, out, indent=1)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

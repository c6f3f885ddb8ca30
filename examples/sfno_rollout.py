"""Autoregressive rollouts of geoc's SFNO against torch-harmonics' own SFNO on shallow water.

The rollout study of Bonev et al., "Spherical Fourier Neural Operators: Learning Stable
Dynamics on the Sphere" (ICML 2023), at toy size, on the data of ``sfno_shallow_water.py``
(imported, not repeated): runs of the shallow-water equations from random states, a frame every
Δt = 1 h on the 32 x 64 equiangular grid, f = sin(lat) as a fourth input channel. Both models
learn one step u(t) -> u(t + Δt) from the consecutive frames of the training runs, in the same
process, with the same batches, steps, Adam and learning-rate schedule
(``examples/data/training.py``). On the held-out runs each model is then fed its own
predictions for ``--lead`` steps, and the quadrature-weighted relative L2 error against the
solver is reported per lead time, with persistence u(t + kΔt) = u(t) as the baseline.

The two models have one architecture: torch-harmonics 0.8.0's
``SphericalFourierNeuralOperator`` in its default block (``z + MLP(conv(z))``, MLP ratio 2,
gelu, no normalisation, one 1x1 map in and out, no biases outside the MLP), and :data:`SPEC`,
the same layers written in geoc (``bench/spectral.py`` proves this architecture equal to
torch-harmonics' by copying weights). Same width, depth, grid and band (``lmax = mmax = 16``).
The one difference is the degree filter: geoc's is real (what SO(3) equivariance allows),
torch-harmonics' complex, so torch-harmonics has about 1.8x the parameters; each library
initialises its weights its own way.

    .venv/bin/python examples/sfno_rollout.py           # 10 min on 1 thread (docs/spectral.md)
    .venv/bin/python examples/sfno_rollout.py --quick   # seconds: a smoke test
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

import geoc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/ when run as a script
import sfno_shallow_water as swe
from data import training
from data.files import write_atomic, write_text
from data.training import Split

DEFAULT_OUT = Path("examples/out/sfno_rollout.png")

#: torch-harmonics' default SFNO block in geoc: lift, ``depth`` x (z + MLP(conv(z))), project.
SPEC = """
model SFNORollout(channels: int = 4, width: int = 32, depth: int = 4) {
    symmetry SO(3)
    domain sphere(nlat=32, nlon=64, grid=equiangular)
    input u: channels x scalar over sphere
    z = linear(u, width x scalar, bias=false)
    repeat depth {
        h = act(linear(sfno_conv(z, width x scalar), 2 * width x scalar), gelu)
        z = z + linear(h, width x scalar, bias=false)
    }
    output v: channels x scalar over sphere = linear(z, channels x scalar, bias=false)
}
"""


@dataclass(frozen=True)
class Config(swe.Config):
    """One rollout study: ``samples`` runs of ``lead`` steps each, one sixth held out."""

    steps: int = 2500
    samples: int = 120
    out: Path = DEFAULT_OUT
    lead: int = 24  # rollout steps of Δt, and the length of every run


QUICK = {"steps": 4, "samples": 12, "lead": 3}


class ByName(torch.nn.Module):
    """A field-to-field model called the way geoc's modules are: ``model(u=x)["v"]``."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"v": self.model(u)}


def torch_harmonics_sfno(channels: int, cfg: Config) -> torch.nn.Module:
    """torch-harmonics' SFNO at geoc's width, depth, grid and band: every layer on the input
    grid (``scale_factor=1``), transforms truncated to ``lmax = mmax = (nlat + 1) // 2`` (its
    default keeps ``nlat``), its default block, no positional embedding, no biases outside the
    MLP (as :data:`SPEC`)."""
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    lmax = (swe.NLAT + 1) // 2
    model = SphericalFourierNeuralOperator(
        img_size=(swe.NLAT, swe.NLON),
        grid="equiangular",
        grid_internal="equiangular",
        scale_factor=1,
        in_chans=channels,
        out_chans=channels,
        embed_dim=cfg.width,
        num_layers=cfg.depth,
        activation_function="gelu",
        encoder_layers=1,
        use_mlp=True,
        mlp_ratio=2.0,
        normalization_layer="none",
        hard_thresholding_fraction=lmax / min(swe.NLAT, swe.NLON // 2),
        residual_prediction=False,
        pos_embed="none",
        bias=False,
    )
    assert (model.trans.lmax, model.trans.mmax) == (lmax, lmax), "band differs from geoc's"
    return ByName(model)


def models(channels: int, cfg: Config) -> dict[str, torch.nn.Module]:
    """The contenders by name, each initialised from ``cfg.seed``."""
    params = {"channels": channels, "width": cfg.width, "depth": cfg.depth}
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        anchor = torch_harmonics_sfno(channels, cfg)
    return {"geoc": geoc.compile(SPEC, params=params, seed=cfg.seed), "torch-harmonics": anchor}


def count_params(model: torch.nn.Module) -> int:
    """Trainable real numbers: a complex weight counts twice."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


@dataclass(frozen=True)
class Runs:
    """Normalised training pairs and held-out runs ``[S, lead + 1, C, nlat, nlon]``, and the
    channel statistics ``[1, C, 1, 1]`` they were normalised by."""

    train: Split
    test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor


def make_runs(cfg: Config, solver: torch.nn.Module) -> Runs:
    """Runs from the solver, normalised by the training frames' channel statistics; every
    consecutive pair of frames of a training run is a training pair."""
    runs = swe.trajectories(cfg, solver, cfg.lead)
    train_runs = runs[: -training.held_out(cfg.samples)]
    mean, std = swe.channel_statistics(train_runs[:, :-1].flatten(0, 1))
    runs = (runs - mean.unsqueeze(1)) / std.unsqueeze(1)
    train_runs, test_runs = runs[: len(train_runs)], runs[len(train_runs) :]
    inputs = swe.with_coriolis(train_runs[:, :-1].flatten(0, 1), solver)
    return Runs(Split(inputs, train_runs[:, 1:].flatten(0, 1)), test_runs, mean, std)


def mirror(fields: torch.Tensor) -> torch.Tensor:
    """Fields ``[..., nlat, nlon]`` mirrored in longitude, λ -> -λ (column j -> -j mod nlon), each
    channel as a scalar: no sign flips (vorticity and f would flip as pseudo-scalars)."""
    return torch.roll(torch.flip(fields, (-1,)), 1, -1)


@torch.inference_mode()
def mirror_floor(cfg: Config, solver: torch.nn.Module, data: Runs, weights: torch.Tensor) -> float:
    """About the least one-step error of any model that commutes with :func:`mirror`.

    The shallow-water step T does not commute with it (the Coriolis and advection terms tell
    east from west: vorticity and f are pseudo-scalars). A model N with N(M x) = M N(x) has
    |N(x) - T(x)| + |N(M x) - T(M x)| >= |T(x) - M T(M x)|, and mirrored initial states are as
    likely as the originals, so its mean relative error is at least about half the mean gap
    between T(x) and M T(M x), computed here on the held-out runs' first step.
    """
    start = mirror(data.test[:, 0] * data.std + data.mean)  # back to the solver's units
    steps = swe.solver_steps(cfg)
    ends = [solver.spec2grid(solver.timestep(solver.grid2spec(x), steps)) for x in start]
    back = (mirror(torch.stack(ends)) - data.mean) / data.std
    return 0.5 * swe.relative_l2(back, data.test[:, 1], weights).mean().item()


@torch.no_grad()
def rollout_errors(
    step: Callable[[torch.Tensor], torch.Tensor], runs: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Relative L2 error per run and lead time ``[S, lead]``, each state made by ``step`` from
    the one before, starting at the runs' first frame."""
    state, errors = runs[:, 0], []
    for k in range(1, runs.shape[1]):
        state = step(state)
        errors.append(swe.relative_l2(state, runs[:, k], weights))
    return torch.stack(errors, dim=1)


def network_step(model: torch.nn.Module, solver: torch.nn.Module) -> Callable:
    return lambda state: swe.predict(model, swe.with_coriolis(state, solver))


def table(errors: dict[str, torch.Tensor]) -> str:
    """Markdown: mean relative L2 error (and its standard error over the runs) per lead time."""
    names = list(errors)
    rows = [
        "| lead (h) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    runs = len(next(iter(errors.values())))
    for k in range(next(iter(errors.values())).shape[1]):
        cells = []
        for name in names:
            column = errors[name][:, k]
            spread = column.std().item() / runs**0.5 if runs > 1 else 0.0
            cells.append(f"{column.mean().item():.3f} ± {spread:.3f}")
        rows.append(f"| {k + 1} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def plot(errors: dict[str, torch.Tensor], counts: dict[str, int], cfg: Config) -> None:
    """Mean error against lead time, one line per model, shaded ± one standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    for name, values in errors.items():
        leads = torch.arange(1, values.shape[1] + 1) * cfg.hours
        mean, spread = values.mean(0), values.std(0) / max(len(values), 1) ** 0.5
        label = name if name not in counts else f"{name} ({counts[name]:,} parameters)"
        style = "--" if name == "persistence" else "-"
        ax.plot(leads, mean, style, marker="o", markersize=3, label=label)
        ax.fill_between(leads, mean - spread, mean + spread, alpha=0.2)
    ax.set(xlabel="lead time (h)", ylabel="relative L2 error", yscale="log")
    ax.set_title(f"SFNO rollouts, shallow water 32x64, {len(values)} held-out runs", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    write_atomic(cfg.out, lambda path: fig.savefig(path, dpi=80))
    plt.close(fig)


def run(cfg: Config) -> dict[str, torch.Tensor]:
    """Make the runs, train both models, roll them out; print and write the table, the JSON and
    the plot; return the errors ``[runs, lead]`` per model and of persistence."""
    torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    solver = swe.shallow_water_solver(cfg.solver_dt)
    data = make_runs(cfg, solver)
    print(
        f"data: {len(data.train.inputs)} train pairs from {cfg.samples - len(data.test)} runs, "
        f"{len(data.test)} held-out runs of {cfg.lead} x {cfg.hours:g} h "
        f"({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    weights = solver.quad_weights.float()
    contenders = models(data.train.inputs.shape[1], cfg)
    counts = {name: count_params(model) for name, model in contenders.items()}
    errors, seconds = {}, {}
    for name, model in contenders.items():
        print(f"{name}: {counts[name]:,} parameters, training {cfg.steps} steps", flush=True)
        begin = time.perf_counter()
        loss = lambda p, t: swe.relative_l2(p, t, weights)  # noqa: E731
        training.train(model, data.train, cfg, swe.predict, loss)
        seconds[name] = time.perf_counter() - begin
        errors[name] = rollout_errors(network_step(model, solver), data.test, weights)
        print(f"{name}: trained in {seconds[name]:.0f} s, {summary(errors[name])}", flush=True)
    errors["persistence"] = rollout_errors(lambda state: state, data.test, weights)
    floor = mirror_floor(cfg, solver, data, weights)
    text = table(errors)
    print(text, end="")
    print(f"mirror floor: a model that commutes with λ -> -λ errs by about {floor:.4f} at 1 h")
    report = {
        "config": {k: str(v) for k, v in dataclasses.asdict(cfg).items()},
        "parameters": counts,
        "mirror_floor": floor,
        "train_seconds": seconds,
        "mean_error": {name: values.mean(0).tolist() for name, values in errors.items()},
    }
    write_text(cfg.out.with_suffix(".md"), text)
    write_text(cfg.out.with_suffix(".json"), json.dumps(report, indent=1))
    plot(errors, counts, cfg)
    print(f"wrote {cfg.out} (.md, .json) ({time.perf_counter() - start:.0f} s in all)")
    return errors


def summary(errors: torch.Tensor) -> str:
    mean = errors.mean(0)
    return f"rollout error at 1 h {mean[0]:.4f}, at {len(mean)} h {mean[-1]:.4f}"


def parse(argv: list[str] | None) -> Config:
    parser = training.parser(__doc__.splitlines()[0], Config())
    parser.add_argument("--lead", type=int, default=Config.lead, help="rollout steps of Δt")
    parser.add_argument("--quick", action="store_true", help="a tiny run in seconds (CI)")
    args = parser.parse_args(argv)
    cfg = Config(*training.common_args(args), lead=args.lead)
    return dataclasses.replace(cfg, **QUICK) if args.quick else cfg


def main(argv: list[str] | None = None) -> int:
    run(parse(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())

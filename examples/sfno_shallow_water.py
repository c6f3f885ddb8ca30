"""Train the compiled Spherical FNO (specs/sfno.geo) on the shallow-water equations.

The experiment of Bonev et al., "Spherical Fourier Neural Operators: Learning Stable Dynamics
on the Sphere" (ICML 2023), at toy size: learn one Δt = 1 h step of the shallow-water equations
on the rotating sphere (Williamson et al., J. Comput. Phys. 102, 1992), state = geopotential,
vorticity, divergence on an equiangular 32 x 64 grid. Random initial conditions are integrated
by torch-harmonics' spectral solver (``ShallowWaterSolver``, as in its ``PdeDataset``) here,
in a few seconds.

Symmetry, honestly: the spec is SO(3)-equivariant, but the Coriolis parameter f = 2Ω sin(lat)
singles out the rotation axis, so one step of the flow on the rotating planet is not: rotating
the state alone does not rotate the result (turning Coriolis off changes it by ~20-40%). With
f as a fourth input channel the map (φ, ζ, δ, f) -> (φ, ζ, δ) commutes with every rotation
of all four, because rotating the axis too is a symmetry of the equations (test error 0.08
with f, 0.26 without, at 300 steps). The network predicts the change over Δt (added back
outside it); errors are quadrature-weighted relative L2 on the sphere.

    .venv/bin/python examples/sfno_shallow_water.py            # 51 s of CPU (examples/README.md)
    .venv/bin/python examples/sfno_shallow_water.py --steps 50 --samples 64
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import geoc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/data when run as a script
from data import training
from data.training import Split

NLAT, NLON = 32, 64  # the grid of specs/sfno.geo
CHANNELS = ("geopotential", "vorticity", "divergence")
DEFAULT_OUT = Path("examples/out/sfno_shallow_water.png")


@dataclass(frozen=True)
class Config:
    """What one run does; the command line sets the first five and ``coriolis``."""

    steps: int = 600
    samples: int = 480
    seed: int = 0
    out: Path = DEFAULT_OUT
    threads: int = 1
    batch: int = 8
    lr: float = 3e-3
    hours: float = 1.0  # Δt, as in torch-harmonics' SFNO example
    solver_dt: float = 600.0  # seconds: 0.6-3% off a 150 s step, 4x cheaper
    coriolis: bool = True  # f as an input channel (see the module docstring)
    width: int = 32
    depth: int = 4


def shallow_water_solver(dt: float) -> torch.nn.Module:
    """torch-harmonics' solver with the bandwidth its ``PdeDataset`` uses, ``lmax = nlat / 3``."""
    from torch_harmonics.examples import ShallowWaterSolver

    lmax = math.ceil(NLAT / 3)
    return ShallowWaterSolver(NLAT, NLON, dt, lmax=lmax, mmax=lmax, grid="equiangular").float()


def solver_steps(cfg: Config) -> int:
    """Solver steps per Δt."""
    return max(1, round(cfg.hours * 3600 / cfg.solver_dt))


@torch.inference_mode()
def trajectories(cfg: Config, solver: torch.nn.Module, frames: int) -> torch.Tensor:
    """``cfg.samples`` runs from random states (Mach 0.2, as ``PdeDataset``), each the state and
    the states after ``frames`` steps of ``Δt``: ``[S, frames + 1, C, nlat, nlon]``."""
    steps = solver_steps(cfg)
    runs = []
    with torch.random.fork_rng():  # the solver draws from the global generator
        torch.manual_seed(cfg.seed)
        for _ in range(cfg.samples):
            state = solver.random_initial_condition(mach=0.2)
            run = [solver.spec2grid(state)]
            for _ in range(frames):
                state = solver.timestep(state, steps)
                run.append(solver.spec2grid(state))
            runs.append(torch.stack(run))
    return torch.stack(runs)


def simulate(cfg: Config, solver: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """``cfg.samples`` random states and the states ``Δt`` later."""
    runs = trajectories(cfg, solver, 1)
    return runs[:, 0], runs[:, 1]


def channel_statistics(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per channel of states ``[S, C, nlat, nlon]``, shaped to
    broadcast over them."""
    return states.mean(dim=(0, 2, 3), keepdim=True), states.std(dim=(0, 2, 3), keepdim=True)


def with_coriolis(states: torch.Tensor, solver: torch.nn.Module) -> torch.Tensor:
    """States ``[S, C, nlat, nlon]`` with sin(lat) appended as a channel: f = 2Ω sin(lat) up to
    a constant."""
    sin_lat = torch.sin(solver.lats).to(states.dtype).reshape(1, 1, NLAT, 1)
    return torch.cat([states, sin_lat.expand(len(states), 1, NLAT, NLON)], dim=1)


def make_splits(cfg: Config, solver: torch.nn.Module) -> tuple[Split, Split]:
    """Train and test sets of states ``[S, C, nlat, nlon]`` at t (normalised by training stats,
    plus f when asked) and at t + Δt."""
    before, after = simulate(cfg, solver)
    mean, std = channel_statistics(before[: -training.held_out(cfg.samples)])
    inputs, targets = (before - mean) / std, (after - mean) / std
    if cfg.coriolis:
        inputs = with_coriolis(inputs, solver)
    return training.split(inputs, targets)


def squared_norms(field: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``∫ field² dΩ`` per sample and channel, ``[S, C]``, by the grid's quadrature.

    ``weights`` ``[nlat, 1]`` make the poles, which an equiangular grid oversamples, count by
    their area.
    """
    return (weights * field.square()).sum((-2, -1))


def relative_l2(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-sample relative L2 error on the sphere over all channels, ``[S]``."""
    miss = squared_norms(pred - target, weights).sum(-1)
    return (miss / squared_norms(target, weights).sum(-1)).sqrt()


def channel_errors(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> list[float]:
    """Mean over the samples of each channel's relative L2 error."""
    ratio = squared_norms(pred - target, weights) / squared_norms(target, weights)
    return ratio.sqrt().mean(0).tolist()


def predict(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """u(t + Δt) = u(t) + network(u(t), f): the network learns the change over Δt."""
    state = inputs[:, : len(CHANNELS)]
    return state + model(u=inputs)["v"][:, : len(CHANNELS)]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, data: Split, weights: torch.Tensor
) -> tuple[list[float], list[float], torch.Tensor]:
    """Per-channel test errors of the model and of persistence, and the predictions."""
    pred = torch.cat([predict(model, x) for x in data.inputs.split(16)])
    persistence = data.inputs[:, : len(CHANNELS)]
    model_errors = channel_errors(pred, data.targets, weights)
    return model_errors, channel_errors(persistence, data.targets, weights), pred


def plot(data: Split, pred: torch.Tensor, errors: list[float], out: Path) -> None:
    """One test sample: each channel's state at t + Δt, the prediction and its error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(13, 7.5), constrained_layout=True)
    for row, name in enumerate(CHANNELS):
        truth, guess = data.targets[0, row], pred[0, row]
        limit, miss = float(truth.abs().max()), float((guess - truth).abs().max())
        panels = [(truth, "truth", limit), (guess, "SFNO", limit), (guess - truth, "error", miss)]
        for ax, (field, title, vmax) in zip(axes[row], panels, strict=True):
            image = ax.imshow(
                field.numpy(), extent=(0, 360, -90, 90), cmap="RdBu_r", vmin=-vmax, vmax=vmax
            )
            ax.set(title=f"{name}: {title}", xticks=[0, 90, 180, 270, 360], yticks=[-90, 0, 90])
            fig.colorbar(image, ax=ax, shrink=0.85)
    summary = ", ".join(f"{n} {e:.3f}" for n, e in zip(CHANNELS, errors, strict=True))
    fig.suptitle(f"compiled SFNO, shallow water, 1 h step (normalised units): test error {summary}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def run(cfg: Config) -> float:
    """Make the data, compile and train the SFNO, print and return the test error, plot."""
    torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    solver = shallow_water_solver(cfg.solver_dt)
    train_set, test_set = make_splits(cfg, solver)
    print(
        f"data: {len(train_set.inputs)} train / {len(test_set.inputs)} test pairs "
        f"u(t) -> u(t + {cfg.hours:g} h) at {NLAT}x{NLON} in {time.perf_counter() - start:.1f} s"
    )
    channels = train_set.inputs.shape[1]
    params = {"channels": channels, "width": cfg.width, "depth": cfg.depth}
    model = geoc.compile("sfno", params=params, seed=cfg.seed)
    weights = solver.quad_weights.float()
    training.train(model, train_set, cfg, predict, lambda p, t: relative_l2(p, t, weights))
    errors, persistence, pred = evaluate(model, test_set, weights)
    error = sum(errors) / len(errors)
    for name, ours, still in zip(CHANNELS, errors, persistence, strict=True):
        print(f"  {name:<12} SFNO {ours:.4f}  persistence {still:.4f}")
    baseline = sum(persistence) / len(persistence)
    print(f"test relative L2 error: SFNO {error:.4f}, persistence u(t+Δt)=u(t) {baseline:.4f}")
    plot(test_set, pred, errors, cfg.out)
    print(f"wrote {cfg.out} ({time.perf_counter() - start:.0f} s in all)")
    return error


def parse(argv: list[str] | None) -> Config:
    parser = training.parser(__doc__.splitlines()[0], Config())
    parser.add_argument(
        "--no-coriolis", action="store_true", help="drop the f input channel (see docstring)"
    )
    args = parser.parse_args(argv)
    return Config(*training.common_args(args), coriolis=not args.no_coriolis)


def main(argv: list[str] | None = None) -> int:
    run(parse(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())

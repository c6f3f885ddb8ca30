"""The spectral examples: the Navier-Stokes data solver against exact solutions, and a tiny
end-to-end run of each example (data, compile, train, plot)."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import paths
import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLES = paths.EXAMPLES


@functools.cache
def load(relative: str, folder: Path = EXAMPLES) -> ModuleType:
    """A file of examples/ (or ``folder``) as a module (neither is a package), registered in
    sys.modules as dataclasses need."""
    name = f"geoc_{folder.name}_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, folder / relative)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def ns() -> ModuleType:
    return load("data/navier_stokes.py")


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_one_shell_decays_at_the_exact_rate(ns: ModuleType) -> None:
    """sin 2πx + cos 2πy is a steady Euler flow (u·∇ω cancels pointwise only if u and v have
    the right signs), so without forcing it decays as exp(-4π² ν t); the error is Crank-
    Nicolson's, second order in the step."""
    x, y = ns.grid(32)
    w0 = torch.sin(2 * math.pi * x) + torch.cos(2 * math.pi * y)
    viscosity, t_final = 1e-2, 1.0
    exact = math.exp(-4 * math.pi**2 * viscosity * t_final) * w0
    errors = [
        relative(ns.VorticitySolver(32, viscosity, dt).solve(w0, 0 * w0, t_final), exact)
        for dt in (0.02, 0.01)
    ]
    assert errors[0] < 1e-5
    assert 3.8 < errors[0] / errors[1] < 4.2


def test_li_forcing_spins_up_its_mode_exactly(ns: ModuleType) -> None:
    """From rest, Li et al.'s forcing f (one shell, |k|² = 2) drives ω = f (1 - e^{-νλt}) / (νλ)
    with λ = 8π²: diffusion, forcing and the (vanishing) advection together, to second order."""
    forcing = ns.li_forcing(32)
    viscosity, t_final = 1e-2, 2.0
    rate = viscosity * 8 * math.pi**2
    exact = forcing * (1 - math.exp(-rate * t_final)) / rate
    errors = [
        relative(ns.VorticitySolver(32, viscosity, dt).solve(0 * forcing, forcing, t_final), exact)
        for dt in (0.02, 0.01)
    ]
    assert errors[0] < 1e-4
    assert 3.8 < errors[0] / errors[1] < 4.2


@pytest.fixture(scope="module")
def flow(ns: ModuleType) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two random ω(0) (float64, 32 x 32), Li et al.'s forcing, and ω(0.5)."""
    generator = torch.Generator().manual_seed(0)
    w0 = 5.0 * ns.gaussian_random_field(2, 32, generator)
    forcing = ns.li_forcing(32)
    return w0, forcing, ns.VorticitySolver(32).solve(w0, forcing, 0.5)


def test_the_flow_keeps_zero_mean_and_commutes_with_shifts(
    ns: ModuleType, flow: tuple[torch.Tensor, ...]
) -> None:
    """Mean vorticity is conserved (zero), and shifting ω(0) and f shifts ω(T): the exact T(2)
    equivariance that the FNO example's (ω(0), f) -> ω(T) map inherits; shifting ω(0) alone
    does not commute."""
    w0, forcing, w = flow
    assert w.mean(dim=(-2, -1)).abs().max() < 1e-12
    shift, dims = (5, 11), (-2, -1)
    solver = ns.VorticitySolver(32)
    moved = solver.solve(w0.roll(shift, dims), forcing.roll(shift, dims), 0.5)
    assert relative(moved, w.roll(shift, dims)) < 1e-12
    assert relative(solver.solve(w0.roll(shift, dims), forcing, 0.5), moved) > 1e-2


@pytest.mark.parametrize(("rotations", "reflect"), [(1, False), (0, True), (3, True)])
def test_the_flow_commutes_with_the_augmentations(
    ns: ModuleType, flow: tuple[torch.Tensor, ...], rotations: int, reflect: bool
) -> None:
    """The FNO example's D4 augmentation (rotations; reflections flip the sign of the
    pseudo-scalars ω and f) maps solutions to solutions."""
    w0, forcing, w = flow
    example = load("fno_navier_stokes.py")

    def move(field: torch.Tensor) -> torch.Tensor:
        return example.dihedral(field, rotations, reflect)

    moved = ns.VorticitySolver(32).solve(move(w0), move(forcing), 0.5)
    assert relative(moved, move(w)) < 1e-12


def test_the_random_field_has_the_prescribed_spectrum(ns: ModuleType) -> None:
    """Mode variances equal τ^{2α-2} (4π²|k|² + τ²)^{-α} at any resolution (mean of 400)."""
    generator = torch.Generator().manual_seed(1)
    fields = ns.gaussian_random_field(400, 16, generator)
    power = torch.fft.rfft2(fields, norm="forward").abs().square().mean(0)
    k1, k2 = ns.wavenumbers(16)
    eigenvalue = 7.0**3 * (4 * math.pi**2 * (k1**2 + k2**2) + 49.0) ** -2.5
    assert power[0, 0] < 1e-20
    assert torch.allclose(power[1:4, 1:4], eigenvalue[1:4, 1:4], rtol=0.25)


def printed_error(text: str, model: str) -> float:
    match = re.search(rf"test relative L2 error: {model} (\S+),", text)
    assert match, text
    return float(match.group(1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "model", "needs"),
    [
        ("fno_navier_stokes.py", "FNO", ["matplotlib"]),
        ("sfno_shallow_water.py", "SFNO", ["matplotlib", "torch_harmonics"]),
    ],
    ids=["fno", "sfno"],
)
def test_example_runs(
    script: str, model: str, needs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in needs:
        pytest.importorskip(module)
    out = tmp_path / f"{model.lower()}.png"
    example = load(script)
    assert example.main(["--steps", "3", "--samples", "8", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert math.isfinite(printed_error(capsys.readouterr().out, model))


@pytest.fixture(scope="module")
def rollout() -> ModuleType:
    pytest.importorskip("torch_harmonics")
    return load("sfno_rollout.py")


@pytest.mark.slow
def test_rollout_models_are_one_architecture(
    rollout: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollout study's geoc spec is torch-harmonics' SFNO: geoc's weights copied into it
    (bench/spectral.py's copy, the real filter as a complex one with zero imaginary part) give
    the same output, so only the filter's imaginary part and the initialisation differ."""
    monkeypatch.syspath_prepend(paths.REPO / "bench")  # bench/spectral.py imports timing.py
    bench = load("spectral.py", paths.REPO / "bench")
    cfg = rollout.Config()
    contenders = rollout.models(4, cfg)
    ours, theirs = contenders["geoc"], contenders["torch-harmonics"]
    bench.copy_sfno_weights(ours, theirs.model)
    x = torch.randn(2, 4, 32, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert relative(ours(u=x)["v"], theirs(u=x)["v"]) < 1e-5
    filters = 4 * cfg.width**2 * 16  # depth x width² x lmax, real in geoc, complex in theirs
    counts = {name: rollout.count_params(model) for name, model in contenders.items()}
    assert counts["torch-harmonics"] - counts["geoc"] == filters


def test_rollout_training_pairs_are_consecutive_frames(rollout: ModuleType) -> None:
    """Every training pair is (frame k with sin(lat), frame k + 1) of one training run; the
    held-out runs are the last sixth, their first frames the rollouts' starting states."""
    cfg = rollout.Config(samples=6, lead=2)
    solver = rollout.swe.shallow_water_solver(cfg.solver_dt)
    runs = rollout.make_runs(cfg, solver)
    inputs, targets = runs.train.inputs, runs.train.targets
    assert inputs.shape == (5 * 2, 4, 32, 64) and runs.test.shape == (1, 3, 3, 32, 64)
    assert torch.equal(inputs[1, :3], targets[0])  # run 0: frame 1 is input and target
    assert not torch.equal(inputs[2, :3], targets[1])  # run 1 starts afresh
    assert torch.allclose(inputs[:, 3, :, 0], torch.sin(solver.lats).float().expand(10, 32))


@pytest.mark.slow
def test_rollout_quick_run_writes_table_and_plot(
    rollout: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "rollout.png"
    assert rollout.main(["--quick", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[0] == "| lead (h) | geoc | torch-harmonics | persistence |"
    assert len(table) == 2 + rollout.QUICK["lead"]
    errors = json.loads(out.with_suffix(".json").read_text())["mean_error"]
    assert all(math.isfinite(e) for values in errors.values() for e in values)
    assert "torch-harmonics:" in capsys.readouterr().out


def test_rollout_mirror_tells_the_models_apart(rollout: ModuleType) -> None:
    """geoc's SO(3) SFNO (real degree filters, pointwise maps) commutes with the longitude
    mirror that treats every channel as a scalar, torch-harmonics' (complex filters) does not;
    the solver commutes with the mirror only when vorticity and Ω flip sign (pseudo-scalars),
    which is why :func:`mirror_floor` bounds geoc's error from below."""
    contenders = rollout.models(4, rollout.Config())
    x = torch.randn(2, 4, 32, 64, generator=torch.Generator().manual_seed(0))
    mirror = rollout.mirror
    with torch.no_grad():
        moved = {
            name: relative(m(u=mirror(x))["v"], mirror(m(u=x)["v"]))
            for name, m in contenders.items()
        }
    assert moved["geoc"] < 1e-5 and moved["torch-harmonics"] > 1e-2
    swe = rollout.swe
    solver = swe.shallow_water_solver(600.0).double()
    state = solver.random_initial_condition(mach=0.2)
    x, y = solver.spec2grid(state), solver.spec2grid(solver.timestep(state, 6))
    sign = torch.tensor([1.0, -1.0, 1.0], dtype=x.dtype).reshape(3, 1, 1)

    def step(grid: torch.Tensor) -> torch.Tensor:
        return solver.spec2grid(solver.timestep(solver.grid2spec(grid), 6))

    # the change over the step, not the state: the mean geopotential would hide the miss
    assert relative(mirror(step(mirror(x))) - x, y - x) > 0.02
    solver.coriolis.neg_()
    assert relative(sign * mirror(step(sign * mirror(x))) - x, y - x) < 1e-3  # float32 tables

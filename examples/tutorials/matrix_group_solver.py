"""Any matrix group through the solver: Sp(2) from its generators to a trained, checked model.

docs/tutorials/matrix_group_solver.md walks through it. Three parts:

1. The solver needs only generators. Sp(2), the maps of R^4 that keep the symplectic form
   w(a, b) = a^T J b, has the Lie algebra {J S : S symmetric} (10 generators), written here from
   that definition and handed to ``geoc.solver.MatrixGroup``; ``equivariant_basis(...,
   method="solve")`` finds the equivariant maps from those generators alone (the nullspace of
   the constraints dρ(A) W = 0), and they agree with geoc's built-in ``Sp(2)`` (its closed form),
   and commute with sampled group elements.
2. ``matrix_group_solver.geo`` declares ``symmetry Sp(2) x S(particles)``; compiling it asks the
   same solver for the basis of every ``linear``.
3. The compiled model learns an Sp(2)-invariant function of 5 phase-space points; it keeps
   its prediction under a symplectic squeeze (q x 3, p / 3) and a random element of Sp(2),
   where the target stays too, while a rotation of R^4 (not symplectic) moves the target.

    .venv/bin/python examples/tutorials/matrix_group_solver.py          # 3,000 steps
    .venv/bin/python examples/tutorials/matrix_group_solver.py --quick  # seconds
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

import geoc
from geoc import solver
from geoc.backends.torch_fx.verify import check_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import arguments, pyplot, savefig, write_report  # noqa: E402

SPEC = HERE / "matrix_group_solver.geo"
PARTICLES = 5
J = np.block([[np.zeros((2, 2)), np.eye(2)], [-np.eye(2), np.zeros((2, 2))]])


@dataclass(frozen=True)
class Settings:
    train: int = 4000
    test: int = 1000
    steps: int = 3000
    batch: int = 64
    lr: float = 2e-3
    channels: int = 8
    hidden: int = 32


QUICK = Settings(train=256, test=128, steps=30, batch=32, channels=4, hidden=16)


# --- 1. the group from its generators -------------------------------------------------------


def symplectic_algebra() -> np.ndarray:
    """A basis of sp(4, R) = {J S : S symmetric}: J S is in it because
    (J S)^T J + J (J S) = S J^T J + J^2 S = S - S = 0."""
    basis = []
    for i in range(4):
        for j in range(i, 4):
            sym = np.zeros((4, 4))
            sym[i, j] = sym[j, i] = 1.0
            basis.append(J @ sym)
    return np.stack(basis)


def projector(basis: np.ndarray) -> np.ndarray:
    """The orthogonal projector onto the span of the columns (bases may differ by a rotation)."""
    return basis @ basis.T


def solver_part(rng: np.random.Generator) -> dict:
    """Solve with the hand-written generators; compare with the built-in group; test with
    sampled elements."""
    mine = solver.MatrixGroup(solver.Family.SP, 2, symplectic_algebra(), np.zeros((0, 4, 4)))
    builtin = solver.Sp(2)
    cases = {
        "vector -> vector": (solver.V, solver.V),
        "vector x vector -> scalar": (solver.V * solver.V, solver.scalar),
        "tensor(2) -> tensor(2)": (solver.T(2), solver.T(2)),
        "tensor(2) -> vector": (solver.T(2), solver.V),
    }
    found = {}
    elements = [builtin.sample(rng) for _ in range(5)]
    for name, (rep_in, rep_out) in cases.items():
        basis = solver.equivariant_basis(mine, rep_in, rep_out, method="solve", cache=False)
        reference = solver.equivariant_basis(builtin, rep_in, rep_out)
        same = float(np.abs(projector(basis) - projector(reference)).max()) if basis.size else 0.0
        worst = 0.0
        for g in elements:
            rho_in, rho_out = rep_in.matrix(builtin, g), rep_out.matrix(builtin, g)
            for column in basis.T:
                w = column.reshape(rho_out.shape[0], rho_in.shape[0])
                worst = max(worst, float(np.abs(rho_out @ w - w @ rho_in).max()))
        found[name] = {"maps": basis.shape[1], "vs_builtin": same, "commutation": worst}
        print(
            f"{name:26s} {basis.shape[1]} map(s); span vs built-in Sp(2) {same:.1e}; "
            f"max |rho_out(g) W - W rho_in(g)| {worst:.1e}"
        )
    form = solver.equivariant_basis(mine, solver.V * solver.V, solver.scalar, method="solve")
    form = form[:, 0].reshape(4, 4)
    found["form_is_J"] = float(np.abs(form / form[0, 2] - J).max())
    print(f"the one invariant bilinear form, scaled: J to {found['form_is_J']:.1e}")
    return found


# --- 2-3. the model ---------------------------------------------------------------------------


def omega_matrix(z: torch.Tensor) -> torch.Tensor:
    """w(z_i, z_j) for every pair of a system's points, ``[S, P, P]``."""
    return z @ torch.as_tensor(J, dtype=z.dtype) @ z.transpose(-1, -2)


def target(z: torch.Tensor) -> torch.Tensor:
    """An Sp(2)-invariant of a system: a pair term and a four-body term of the areas w_ij."""
    omega = omega_matrix(z)
    pairs = torch.sin(omega).square().sum((-2, -1)) / PARTICLES
    four = torch.linalg.matrix_power(omega, 4).diagonal(dim1=-2, dim2=-1).sum(-1)
    return (pairs + four / PARTICLES**3)[:, None]


def inputs(z: torch.Tensor) -> dict:
    """Systems as one graph batch, every ordered pair of distinct points an edge."""
    count = len(z)
    src, dst = torch.where(~torch.eye(PARTICLES, dtype=torch.bool))
    offsets = (torch.arange(count) * PARTICLES).repeat_interleave(len(src))
    edge_index = torch.stack([src.repeat(count), dst.repeat(count)]) + offsets
    batch = torch.arange(count).repeat_interleave(PARTICLES)
    return {"z": z.reshape(-1, 4), "edge_index": edge_index, "batch": batch, "num_graphs": count}


def train(model, z: torch.Tensor, y: torch.Tensor, settings: Settings, seed: int) -> list[float]:
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.steps)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(settings.steps):
        rows = torch.randint(len(z), (settings.batch,), generator=generator)
        loss = (model(**inputs(z[rows]))["y"] - y[rows]).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return losses


def moves(rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """A squeeze (q x 3, p / 3), a random element of Sp(2), and a rotation of R^4 that is
    not symplectic (q1 into p2)."""
    turn = np.eye(4)
    turn[[0, 0, 3, 3], [0, 3, 0, 3]] = [0.6, -0.8, 0.8, 0.6]
    found = {
        "squeeze": np.diag([3.0, 3.0, 1 / 3, 1 / 3]),
        "random Sp(2)": solver.Sp(2).sample(rng),
        "rotation of R^4": turn,
    }
    return {name: torch.as_tensor(g, dtype=torch.float32) for name, g in found.items()}


@torch.no_grad()
def response(model, z: torch.Tensor, g: torch.Tensor) -> dict[str, float]:
    """Relative change of the target and of the model's prediction when every point moves
    by ``g``."""
    moved = z @ g.T
    before, after = model(**inputs(z))["y"], model(**inputs(moved))["y"]
    y0, y1 = target(z.double()), target(moved.double())
    return {
        "target_change": float((y1 - y0).norm() / y0.norm()),
        "model_change": float((after - before).norm() / before.norm()),
    }


def plot(losses: list[float], path: Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    smooth = torch.tensor(losses).unfold(0, min(50, len(losses)), 1).mean(1)
    axis.semilogy(smooth)
    axis.set(xlabel="Adam step", ylabel="training MSE (running mean)", title="Sp(2) model")
    return savefig(figure, path)


def main(argv: list[str] | None = None) -> int:
    args = arguments("matrix_group_solver", __doc__, argv)
    settings = QUICK if args.quick else Settings()
    rng = np.random.default_rng(args.seed)
    solved = solver_part(rng)

    generator = torch.Generator().manual_seed(args.seed)
    z = 0.8 * torch.randn(settings.train + settings.test, PARTICLES, 4, generator=generator)
    y = target(z.double()).float()
    scale = float(y[: settings.train].std())
    params = {"channels": settings.channels, "hidden": settings.hidden}
    model = geoc.compile(SPEC, params=params, seed=args.seed)
    weights = sum(p.numel() for p in model.parameters())
    print(
        f"{weights} parameters; {settings.train} systems of {PARTICLES} points, "
        f"{settings.steps} steps"
    )
    losses = train(model, z[: settings.train], y[: settings.train] / scale, settings, args.seed)
    test = z[settings.train :]
    with torch.no_grad():
        pred = model(**inputs(test))["y"] * scale
    truth = y[settings.train :]
    relative = float((pred - truth).norm() / (truth - truth.mean()).norm())
    print(f"test: relative error {relative:.3f} (predicting the mean: 1.000)")
    responses = {name: response(model, test, g) for name, g in moves(rng).items()}
    for name, r in responses.items():
        print(
            f"{name:16s} target moves {r['target_change']:.1e}, "
            f"prediction moves {r['model_change']:.1e}"
        )
    verdict = check_module(model)
    print(verdict.render())
    figure = plot(losses, args.out / "training.png")
    write_report(
        args,
        {
            "solver": solved,
            "parameters": weights,
            "test_relative_error": relative,
            "responses": responses,
            "check_passed": verdict.passed,
            "check_max_error": verdict.max_error,
            "figure": str(figure),
            "settings": asdict(settings),
        },
    )
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Your first O(3) model, and why `relu(vector)` is rejected.

docs/tutorials/first_o3_model.md walks through it. Three parts:

1. ``first_o3_relu.geo`` applies ``relu`` to vectors; geoc refuses it with ``GEO402`` (printed
   as the user sees it, caret and help line included).
2. Numbers: relu on the coordinates of vectors does not commute with a rotation (the relative
   error printed), while scaling a vector by a function of its norm does (rounding only).
3. ``first_o3_model.geo`` (gates instead of relu) is trained to predict
   y = Σ_i tanh(|v_i|² - 1) v_i from a set of 5 vectors, on training sets whose vectors are
   stretched along z, and tested on randomly rotated and reflected sets, against a DeepSets
   of the same width whose per-item MLP applies relu to coordinates (permutation-invariant,
   not rotation-equivariant). On the test sets turned by random rotations and reflections
   the O(3) model's error is the same (to float32 rounding); the baseline's is not.

    .venv/bin/python examples/tutorials/first_o3_model.py          # 2,000 steps
    .venv/bin/python examples/tutorials/first_o3_model.py --quick  # seconds
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import geoc
from geoc.backends.torch_fx.verify import check_module

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import arguments, pyplot, savefig, write_report  # noqa: E402

SPEC, REJECTED = HERE / "first_o3_model.geo", HERE / "first_o3_relu.geo"
ITEMS = 5
STRETCH = torch.tensor([0.4, 0.4, 1.6])  # training vectors: long along z


@dataclass(frozen=True)
class Settings:
    train: int = 4000
    test: int = 1000
    steps: int = 2000
    batch: int = 64
    lr: float = 3e-3
    hidden: int = 16


QUICK = Settings(train=256, test=128, steps=30, batch=32)


def rejection() -> tuple[list[str], str]:
    """Compile the relu spec; the diagnostic codes and the rendered error."""
    try:
        geoc.compile(REJECTED)
    except geoc.GeoError as err:
        return err.codes, err.render()
    raise SystemExit(f"{REJECTED.name} compiled: the relu on vectors was not rejected")


def random_orthogonal(count: int, generator: torch.Generator) -> torch.Tensor:
    """Haar-random elements of O(3) (rotations and reflections), ``[count, 3, 3]``."""
    q, r = torch.linalg.qr(torch.randn(count, 3, 3, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]


def commutation_errors(generator: torch.Generator) -> dict[str, float]:
    """max |f(Rv) - R f(v)| / max |f(v)| over 1,000 vectors and rotations, for relu on the
    coordinates and for a norm gate v · sigmoid(|v|)."""
    v = torch.randn(1000, 3, generator=generator, dtype=torch.float64)
    rot = random_orthogonal(1000, generator)
    rotate = lambda u: torch.einsum("nij,nj->ni", rot, u)  # noqa: E731
    relu = torch.relu
    gate = lambda u: u * torch.sigmoid(u.norm(dim=-1, keepdim=True))  # noqa: E731
    out = {}
    for name, f in (("relu", relu), ("norm_gate", gate)):
        out[name] = float((f(rotate(v)) - rotate(f(v))).abs().max() / f(v).abs().max())
    return out


def make_sets(count: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Sets of vectors stretched along z and their targets."""
    v = torch.randn(count, ITEMS, 3, generator=generator) * STRETCH
    y = (torch.tanh(v.square().sum(-1, keepdim=True) - 1) * v).sum(1)
    return {"v": v, "y": y}


def rotated(sets: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The same sets, each turned by its own random element of O(3) (targets turn along)."""
    rot = random_orthogonal(len(sets["v"]), generator).float()
    return {
        "v": torch.einsum("nij,nkj->nki", rot, sets["v"]),
        "y": torch.einsum("nij,nj->ni", rot, sets["y"]),
    }


def inputs(v: torch.Tensor) -> dict:
    count = len(v)
    batch = torch.arange(count).repeat_interleave(ITEMS)
    return {"v": v.reshape(-1, 3), "batch": batch, "num_graphs": count}


class ReluDeepSets(torch.nn.Module):
    """sum_i phi(v_i) -> rho, relu MLPs on coordinates: permutation-invariant only."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        width = 4 * hidden
        self.phi = torch.nn.Sequential(
            torch.nn.Linear(3, width), torch.nn.ReLU(), torch.nn.Linear(width, width)
        )
        self.rho = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(width, 3))

    def forward(self, v: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> dict:
        pooled = torch.zeros(num_graphs, self.phi[-1].out_features).index_add(0, batch, self.phi(v))
        return {"y": self.rho(pooled)}


def train(model: torch.nn.Module, data: dict, settings: Settings, seed: int) -> list[float]:
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.steps)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(settings.steps):
        rows = torch.randint(settings.train, (settings.batch,), generator=generator)
        loss = (model(**inputs(data["v"][rows]))["y"] - data["y"][rows]).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def mse(model: torch.nn.Module, data: dict) -> float:
    return float((model(**inputs(data["v"]))["y"] - data["y"]).square().mean())


def plot(curves: dict[str, list[float]], path: Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    for name, losses in curves.items():
        smooth = torch.tensor(losses).unfold(0, min(25, len(losses)), 1).mean(1)
        axis.semilogy(smooth, label=name)
    axis.set(xlabel="Adam step", ylabel="training MSE (running mean)")
    axis.legend()
    return savefig(figure, path)


def main(argv: list[str] | None = None) -> int:
    args = arguments("first_o3_model", __doc__, argv)
    settings = QUICK if args.quick else Settings()
    codes, rendered = rejection()
    print(rendered)
    generator = torch.Generator().manual_seed(args.seed)
    errors = commutation_errors(generator)
    print(
        f"max |f(Rv) - R f(v)| / max |f(v)|: relu {errors['relu']:.3f}, "
        f"norm gate {errors['norm_gate']:.1e}"
    )

    train_sets = make_sets(settings.train, generator)
    aligned = make_sets(settings.test, generator)
    tests = {"aligned": aligned, "rotated": rotated(aligned, generator)}
    models = {
        "O(3) spec": geoc.compile(SPEC, params={"hidden": settings.hidden}, seed=args.seed),
        "relu DeepSets": ReluDeepSets(settings.hidden),
    }
    results: dict[str, dict] = {}
    curves = {}
    for name, model in models.items():
        curves[name] = train(model, train_sets, settings, args.seed)
        weights = sum(p.numel() for p in model.parameters())
        results[name] = {"parameters": weights, **{k: mse(model, t) for k, t in tests.items()}}
        found = results[name]
        print(
            f"{name:14s} {weights:6d} parameters  test MSE aligned {found['aligned']:.2e}"
            f"  rotated {found['rotated']:.2e}"
        )
    verdict = check_module(models["O(3) spec"])
    print(
        f"trained O(3) spec: geoc check {'passed' if verdict.passed else 'FAILED'} "
        f"(max error {verdict.max_error:.1e})"
    )
    figure = plot(curves, args.out / "training.png")
    write_report(
        args,
        {
            "rejected_codes": codes,
            "rejected_render": rendered,
            "relu_commutation_error": errors["relu"],
            "norm_gate_commutation_error": errors["norm_gate"],
            "models": results,
            "check_passed": verdict.passed,
            "figure": str(figure),
            "settings": asdict(settings),
        },
    )
    return 0 if codes == ["GEO402"] and verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())

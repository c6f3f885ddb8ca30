"""The charged N-body example: its simulator (examples/data/nbody_charged.py) against the
physics it states, the `egnn_nbody` spec against the EGNN authors' layer equations, and a tiny
end-to-end run of examples/egnn_nbody.py."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from test_examples import load

pytestmark = pytest.mark.usefixtures("one_thread")

SHORT = {"steps": 1000, "every": 100}  # 9 frames: seconds of CPU become milliseconds


@pytest.fixture(scope="module")
def sim():
    return load("data/nbody_charged.py")


def coulomb(positions: torch.Tensor, charges: torch.Tensor) -> torch.Tensor:
    """``sum_j q_i q_j (x_i - x_j) / |x_i - x_j|³`` pair by pair, for one system ``[n, 3]``."""
    n = len(positions)
    force = torch.zeros_like(positions)
    for i in range(n):
        for j in range(n):
            if i != j:
                r = positions[i] - positions[j]
                force[i] += charges[i] * charges[j] * r / r.norm() ** 3
    return force


def test_initial_state_has_the_stated_distribution(sim) -> None:
    """Charges ±1 about half each, speeds exactly 0.5, positions N(0, 1), all inside the box."""
    system = sim.ChargedSystem()
    x, v, q = sim.initial_state(4000, system, torch.Generator().manual_seed(0))
    assert x.shape == v.shape == (4000, 5, 3) and q.shape == (4000, 5)
    assert set(q.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(q.mean())) < 0.03
    assert torch.allclose(v.norm(dim=-1), torch.full((4000, 5), 0.5, dtype=torch.float64))
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1.0) < 0.02
    assert float(x.abs().max()) <= system.box


def test_forces_are_coulombs_law_clipped_per_component(sim) -> None:
    """Like charges repel, opposite attract, the sum pair by pair; a close pair's components
    stop at ±max_force."""
    system = sim.ChargedSystem(max_force=None)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 3, generator=generator, dtype=torch.float64)
    q = torch.tensor([[1.0, -1, 1, 1, -1], [1, 1, 1, 1, 1], [-1, -1, 1, -1, 1]])
    got = sim.forces(x, q.double(), system)
    for b in range(3):
        assert torch.allclose(got[b], coulomb(x[b], q[b].double()), rtol=1e-12, atol=0)
    pair = torch.tensor([[[0.0, 0, 0], [1, 0, 0]]], dtype=torch.float64)
    same = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    like = sim.forces(pair, same, system)
    assert like[0, 0, 0] == -1.0 and like[0, 1, 0] == 1.0  # pushed apart along x
    unlike = sim.forces(pair, torch.tensor([[1.0, -1.0]], dtype=torch.float64), system)
    assert unlike[0, 0, 0] == 1.0 and unlike[0, 1, 0] == -1.0
    close = pair * 0.01  # |F| = 1e4 > 100
    clipped = sim.forces(close, same, sim.ChargedSystem())
    assert clipped[0, :, 0].tolist() == [-100.0, 100.0] and clipped[0, :, 1:].abs().max() == 0


def test_reflection_mirrors_positions_past_a_wall_and_turns_velocities_inwards(sim) -> None:
    x = torch.tensor([[[6.0, -7.0, 1.0]]], dtype=torch.float64)
    v = torch.tensor([[[0.3, -0.2, -0.4]]], dtype=torch.float64)
    x2, v2 = sim.reflect(x, v, 5.0)
    assert x2.tolist() == [[[4.0, -3.0, 1.0]]]
    assert v2.tolist() == [[[-0.3, 0.2, -0.4]]]


def test_energy_is_conserved_to_first_order_in_the_step(sim) -> None:
    """All charges alike (repulsion: no close encounters) and no clipping: NRI's leapfrog is
    symplectic Euler, so the energy error stays bounded and halves with the step."""
    drifts = []
    for dt, steps in ((1e-3, 1000), (5e-4, 2000)):
        system = sim.ChargedSystem(max_force=None, dt=dt, steps=steps, every=steps // 10)
        x, v, q = sim.initial_state(8, system, torch.Generator().manual_seed(2))
        q = q.abs()
        px, pv = sim.simulate(x, v, q, system)
        start = sim.energy(x, v, q, system.strength)
        kept = sim.energy(px, pv, q.unsqueeze(1), system.strength)
        drifts.append(float(((kept - start.unsqueeze(1)).abs() / start.abs().unsqueeze(1)).max()))
    assert drifts[0] < 1e-3
    assert 1.6 < drifts[0] / drifts[1] < 2.4


def test_trajectories_are_deterministic_and_chunking_does_not_change_them(sim) -> None:
    system = sim.ChargedSystem(**SHORT)
    a = sim.trajectories(5, seed=3, system=system)
    b = sim.trajectories(5, seed=3, system=system)
    assert a["positions"].shape == a["velocities"].shape == (5, 9, 5, 3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["positions"], sim.trajectories(5, 4, system)["positions"])
    x, v, q = sim.initial_state(5, system, torch.Generator().manual_seed(3))
    chunked = sim.simulate(x, v, q, system, chunk=2)
    assert torch.equal(chunked[0], a["positions"]) and torch.equal(chunked[1], a["velocities"])


def test_a_kept_frame_is_the_state_after_its_step(sim) -> None:
    """Frame k holds the positions after step every (k + 1) and the velocity they moved with:
    a free particle (one particle, no force) moves on a line at its initial velocity."""
    system = sim.ChargedSystem(particles=1, **SHORT)
    x, v, q = sim.initial_state(2, system, torch.Generator().manual_seed(5))
    px, pv = sim.simulate(x, v, q, system)
    times = torch.arange(1, 10, dtype=torch.float64) * 100 * system.dt
    expected = x.unsqueeze(1) + times.view(1, -1, 1, 1) * v.unsqueeze(1)
    assert torch.allclose(px, expected, atol=1e-13)
    assert torch.equal(pv, v.unsqueeze(1).expand_as(pv))


# --- the spec ----------------------------------------------------------------------------------


def linear(params: dict, name: str, value: torch.Tensor) -> torch.Tensor:
    bias = params.get(f"{name}.bias")
    return torch.nn.functional.linear(value, params[f"{name}.weight"], bias)


def two_layers(params: dict, name: str, value: torch.Tensor, last_act: bool) -> torch.Tensor:
    silu = torch.nn.functional.silu
    out = linear(params, f"{name}.1", silu(linear(params, f"{name}.0", value)))
    return silu(out) if last_act else out


def authors_egnn_vel(
    params: dict, x: torch.Tensor, v: torch.Tensor, q: torch.Tensor, depth: int
) -> torch.Tensor:
    """EGNN_vel of Satorras et al. on dense systems ``[batch, n, 3]`` (every other particle a
    neighbour): ``h = W |v|``; per layer ``m_ij = phi_e(h_i, h_j, |x_i - x_j|², q_i q_j,
    |x⁰_i - x⁰_j|²)``, ``x_i += mean_j (x_i - x_j) phi_x(m_ij) + phi_v(h_i) v_i``,
    ``h_i += phi_h(h_i, sum_j m_ij)``; weights read from the compiled module by name."""
    n = x.shape[1]
    others = (1 - torch.eye(n, dtype=x.dtype)).view(1, n, n, 1)

    def pairs(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # a_i, a_j on [b, i, j]
        return a.unsqueeze(2).expand(-1, -1, n, -1), a.unsqueeze(1).expand(-1, n, -1, -1)

    start = (x.unsqueeze(2) - x.unsqueeze(1)).square().sum(-1, keepdim=True)
    attributes = torch.cat([q.unsqueeze(2) * q.unsqueeze(1), start], dim=-1)
    h = linear(params, "h", v.norm(dim=-1, keepdim=True))
    for layer in range(depth):
        name = f"layers.{layer}.egnn_vel_layer"
        diff = x.unsqueeze(2) - x.unsqueeze(1)
        h_i, h_j = pairs(h)
        radial = diff.square().sum(-1, keepdim=True)
        m = two_layers(params, f"{name}.m", torch.cat([h_i, h_j, radial, attributes], -1), True)
        m = m * others
        phi_x = two_layers(params, f"{name}.w", m, False)
        moved = x + (diff * phi_x * others).sum(2) / (n - 1)
        x = moved + two_layers(params, f"{name}.dv.mlp", h, False) * v
        if layer < depth - 1:  # the last layer's h is never read: the compiler drops it
            h = h + two_layers(params, f"{name}.h2.mlp", torch.cat([h, m.sum(2)], -1), False)
    return x


def test_the_spec_is_the_authors_egnn_vel() -> None:
    """Random parameters and systems in float64: the compiled spec computes the authors'
    model (batched as the example feeds it) to rounding."""
    import geoc

    depth, graphs, n = 3, 4, 5
    module = geoc.compile("egnn_nbody", params={"hidden": 16, "depth": depth}, seed=7)
    module = module.double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.3)
    x, v = torch.randn(2, graphs, n, 3, generator=generator, dtype=torch.float64)
    q = torch.randint(0, 2, (graphs, n), generator=generator).double() * 2 - 1
    got = module(
        x=x.reshape(-1, 3),
        v=v.reshape(-1, 3),
        q=q.reshape(-1, 1),
        batch=torch.arange(graphs).repeat_interleave(n),
        num_graphs=graphs,
    )["pos"]
    expected = authors_egnn_vel(dict(module.named_parameters()), x, v, q.unsqueeze(-1), depth)
    assert torch.allclose(got, expected.reshape(-1, 3), rtol=1e-12, atol=1e-12)


# --- the example ---------------------------------------------------------------------------------


def test_batches_stack_systems_as_the_model_takes_them() -> None:
    """Particles of each system consecutive with ``batch`` their system; shuffled training
    drops the last partial batch (the authors' ``drop_last``), evaluation keeps every system."""
    example = load("egnn_nbody.py")
    generator = torch.Generator().manual_seed(0)
    split = {k: torch.randn(7, 5, 3, generator=generator) for k in ("x", "v", "y")}
    split["q"] = torch.randn(7, 5, generator=generator).sign()
    shuffled = list(example.batches(split, 3, torch.Generator().manual_seed(1)))
    assert [inputs["num_graphs"] for inputs, _ in shuffled] == [3, 3]
    ordered = list(example.batches(split, 3, None))
    assert [inputs["num_graphs"] for inputs, _ in ordered] == [3, 3, 1]
    inputs, target = ordered[1]
    assert torch.equal(inputs["x"], split["x"][3:6].reshape(15, 3))
    assert torch.equal(inputs["q"], split["q"][3:6].reshape(15, 1))
    assert torch.equal(target, split["y"][3:6].reshape(15, 3))
    assert inputs["batch"].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    rows = {tuple(t[0].tolist()) for _, t in shuffled}
    assert len(rows) == 2 and rows <= {tuple(split["y"][i, 0].tolist()) for i in range(7)}


@pytest.mark.slow
def test_the_example_runs_end_to_end_in_quick_mode(tmp_path, capsys) -> None:
    """Data, training, curves, plot, save and reload: the path a user runs, made tiny."""
    import json
    import math

    example = load("egnn_nbody.py")
    assert example.main(["--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reloaded_test_mse"] == report["test_mse_at_best_val"]
    assert math.isfinite(report["test_mse_at_best_val"]) and report["best_epoch"] in (1, 2)
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["train"]) == 2 and len(curves["val"]) == 2
    assert (tmp_path / "model" / "spec.geo").exists()
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "learning_curve.png").stat().st_size > 0
    assert "test MSE at the best validation epoch" in capsys.readouterr().out


@pytest.mark.slow
def test_the_loop_trains_the_cgenn_spec_on_the_same_data(tmp_path) -> None:
    """`--spec cgenn_nbody`: the same inputs, loop and data; saved and reloaded alike."""
    import json
    import math

    example = load("egnn_nbody.py")
    assert example.main(["--quick", "--spec", "cgenn_nbody", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["spec"] == "cgenn_nbody" and math.isfinite(report["test_mse_at_best_val"])
    assert report["reloaded_test_mse"] == report["test_mse_at_best_val"]


def test_the_spec_starts_as_the_authors_model() -> None:
    """Every weight is drawn as the authors' PyTorch draws it, in order from one generator:
    ``nn.Linear``'s uniform rule, except the coordinate MLP's last layer, Xavier-uniform at
    gain 0.001 with no bias (its weights within 0.001 sqrt(6 / 65))."""
    import math

    import geoc

    module = geoc.compile("egnn_nbody", seed=3)
    initialisers = module.meta["geoc_initialisers"]
    generator = torch.Generator().manual_seed(3)
    fan_in = {}
    for name, parameter in module.named_parameters():
        layer, kind = name.rsplit(".", 1)[0], initialisers[name]
        if name.endswith("weight"):
            fan_in[layer] = parameter.shape[1]
        expected = torch.empty_like(parameter)
        if kind == "uniform":
            bound = 1 / math.sqrt(fan_in[layer])
            torch.nn.init.uniform_(expected, -bound, bound, generator=generator)
        else:
            assert kind == "xavier(gain=0.001)" and name.endswith(".w.1.weight"), name
            torch.nn.init.xavier_uniform_(expected, gain=0.001, generator=generator)
        assert torch.equal(parameter.detach(), expected), name
    last = [n for n in initialisers if ".w.1." in n]
    assert len(last) == 4 and all(n.endswith("weight") for n in last)  # no bias
    assert max(float(module.get_parameter(n).detach().abs().max()) for n in last) <= 0.001 * (
        math.sqrt(6 / 65)
    )

"""`spd_batch_norm` (Riemannian batch norm of SPD matrices) against its papers' equations in
plain PyTorch (Brooks et al. 2019 for AIRM; log-Euclidean; the Bures-Wasserstein barycentre and
optimal-transport centring of Wang et al. 2024 with M = I), in training and eval modes with the
running mean after several steps; O(n)-congruence and reordering equivariance; deep float32
stacks; finite first and second derivatives at repeated eigenvalues; fake tensors, torch.compile
and export; `geoc check` in either mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_captures, assert_fails_at, run_exported

from geoc import cli
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.manifold import spd_norm_kernels as rtn
from geoc.backends.torch_fx.verify import check_module, record
from geoc.diagnostics import GeoError

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
METRICS = ["airm", "log_euclidean", "gbw"]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def spd_batch(count: int, n: int, seed: int, dtype: torch.dtype = F64) -> torch.Tensor:
    a = torch.randn(count, n, n, generator=gen(seed), dtype=F64)
    return (a @ a.transpose(-1, -2) / n + 0.3 * torch.eye(n, dtype=F64)).to(dtype)


def orthogonal(n: int, seed: int) -> torch.Tensor:
    q = torch.linalg.qr(torch.randn(n, n, generator=gen(seed), dtype=F64)).Q
    return q * torch.tensor([-1.0] + [1.0] * (n - 1), dtype=F64)  # with a reflection


# --- the papers' equations, written with torch.linalg.eigh ------------------------------------


def fn(x: torch.Tensor, f) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(x)
    return vectors @ torch.diag_embed(f(values)) @ vectors.transpose(-1, -2)


def powm(x: torch.Tensor, p: float) -> torch.Tensor:
    return fn(x, lambda v: v**p)


def logm(x: torch.Tensor) -> torch.Tensor:
    return fn(x, torch.log)


def expm(x: torch.Tensor) -> torch.Tensor:
    return fn(x, torch.exp)


def ref_mean(x: torch.Tensor, metric: str, iters: int) -> torch.Tensor:
    """Brooks et al. (2019) Alg. 1: Karcher flow from the log-Euclidean mean; the BW fixed point
    (Álvarez-Esteban et al. 2016) from the arithmetic mean."""
    if metric == "log_euclidean":
        return expm(logm(x).mean(0))
    if metric == "airm":
        g = expm(logm(x).mean(0))
        for _ in range(iters):
            h, ih = powm(g, 0.5), powm(g, -0.5)
            g = h @ expm(logm(ih @ x @ ih).mean(0)) @ h
        return g
    g = x.mean(0)
    for _ in range(iters):
        h, ih = powm(g, 0.5), powm(g, -0.5)
        s = powm(h @ x @ h, 0.5).mean(0)
        g = ih @ s @ s @ ih
    return g


def ref_centre(x: torch.Tensor, g: torch.Tensor, p: torch.Tensor | None, metric: str):
    if metric == "log_euclidean":
        return expm(logm(x) - logm(g) + (0 if p is None else p))
    ih = powm(g, -0.5)
    y = ih @ x @ ih  # AIRM whitening; for BW the OT map from N(0, G) to N(0, I) is G^-1/2
    if p is None:
        return y
    hb = powm(expm(p), 0.5)
    return hb @ y @ hb


def ref_running(r: torch.Tensor, g: torch.Tensor, metric: str, t: float) -> torch.Tensor:
    if metric == "airm":
        h, ih = powm(r, 0.5), powm(r, -0.5)
        return h @ powm(ih @ g @ ih, t) @ h
    if metric == "log_euclidean":
        return expm((1 - t) * logm(r) + t * logm(g))
    h, ih = powm(r, 0.5), powm(r, -0.5)
    transport = ih @ powm(h @ g @ h, 0.5) @ ih  # OT map from N(0, R) to N(0, G)
    s = (1 - t) * torch.eye(r.shape[-1], dtype=r.dtype) + t * transport
    return s @ r @ s


# --- compiled models ------------------------------------------------------------------------


def model(metric: str, bias: bool = False, n: int = 3, group: str = "S(set)") -> str:
    return f"""model BN() {{
    symmetry {group}
    domain set(set)
    input x: spd({n}) over set
    y = spd_batch_norm(x, metric={metric}, bias={"true" if bias else "false"}, momentum=0.3)
    output y: spd({n}) over set = y
}}
"""


def compiled(metric: str, bias: bool = False, **kw) -> torch.fx.GraphModule:
    return geoc_compile(model(metric, bias, **kw), dtype=F64)


def state(module: torch.nn.Module, leaf: str) -> torch.Tensor:
    return next(v for k, v in module.state_dict().items() if k.endswith(leaf))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("metric", METRICS)
def test_equals_the_papers_equations_in_train_and_eval_modes(metric: str, bias: bool) -> None:
    module = compiled(metric, bias)
    p = None
    if bias:
        a = torch.randn(3, 3, generator=gen(9), dtype=F64)
        p = (a + a.T) / 4
        with torch.no_grad():
            next(v for k, v in module.named_parameters() if k.endswith("bias")).copy_(p)
    running = torch.eye(3, dtype=F64)
    for step in range(4):  # several training steps: the running mean moves each time
        x = spd_batch(5 + step, 3, seed=step)
        out = module(x=x.flatten(1))["y"].unflatten(-1, (3, 3))
        g = ref_mean(x, metric, iters=3)
        assert (out - ref_centre(x, g, p, metric)).abs().max() < 1e-10
        running = ref_running(running, g, metric, 0.3)
        assert (state(module, "running_mean")[0] - running).abs().max() < 1e-10
    module.eval()
    kept = state(module, "running_mean").clone()
    x = spd_batch(6, 3, seed=11)
    out = module(x=x.flatten(1))["y"].unflatten(-1, (3, 3))
    assert (out - ref_centre(x, running, p, metric)).abs().max() < 1e-10
    assert torch.equal(state(module, "running_mean"), kept)  # eval mode: no update


def test_copies_have_their_own_statistics() -> None:
    x = spd_batch(8, 3, seed=2).reshape(4, 2, 3, 3)  # 4 elements of 2 copies
    running = torch.eye(3, dtype=F64).expand(2, 3, 3).clone()
    out = rtn.spd_batch_norm(x.flatten(1), running, None, True, "airm", 3, 0.5, 3)
    for c in range(2):
        ref = ref_centre(x[:, c], ref_mean(x[:, c], "airm", 3), None, "airm")
        assert (out.unflatten(-1, (2, 3, 3))[:, c] - ref).abs().max() < 1e-10


def test_the_karcher_flow_converges_linearly() -> None:
    """The documented accuracy of `iters` (docs/manifolds.md): from the log-Euclidean start, each
    step cuts the Riemannian gradient ``mean log(G^-½ X G^-½)`` about tenfold on a batch whose
    logs spread by 0.6 (1e-5 after the default 3 steps, below 1e-9 after 8)."""
    x = spd_batch(16, 4, seed=3)
    residuals = []
    for iters in (1, 2, 3, 8):
        g = rtn.airm_mean(x.unsqueeze(1), iters)[0]
        ih = powm(g, -0.5)
        residuals.append(float(logm(ih @ x @ ih).mean(0).abs().max()))
    assert residuals[1] < residuals[0] / 5 and residuals[2] < residuals[1] / 5
    assert residuals[2] < 1e-4 and residuals[3] < 1e-9


# --- equivariance ---------------------------------------------------------------------------


def batch_with_ties(n: int) -> torch.Tensor:
    x = spd_batch(6, n, seed=5)
    eye = torch.eye(n, dtype=F64)
    return torch.cat([x, x[:2], eye[None], 2 * eye[None]])  # repeats and repeated eigenvalues


@pytest.mark.parametrize("metric", METRICS)
def test_train_mode_is_congruence_equivariant(metric: str) -> None:
    n = 4
    x, q = batch_with_ties(n), orthogonal(n, seed=1)
    eye = torch.eye(n, dtype=F64).expand(1, n, n)

    def run(v: torch.Tensor) -> torch.Tensor:
        out = rtn.spd_batch_norm(v.flatten(1), eye.clone(), None, True, metric, n, 0.1, 3)
        return out.unflatten(-1, (n, n))

    moved = run(q @ x @ q.T)
    assert (moved - q @ run(x) @ q.T).abs().max() < 1e-10


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_reordering_the_batch_reorders_the_result(metric: str, training: bool) -> None:
    n, x = 3, batch_with_ties(3)
    perm = torch.randperm(len(x), generator=gen(4))
    running = ref_mean(spd_batch(4, n, seed=8), "airm", 3)[None]

    def run(v: torch.Tensor) -> torch.Tensor:
        args = (running.clone(), None, training, metric, n, 0.1, 3)
        return rtn.spd_batch_norm(v.flatten(1), *args)

    assert (run(x[perm]) - run(x)[perm]).abs().max() < 1e-10


def test_eval_mode_with_a_running_mean_is_not_congruence_equivariant() -> None:
    n, x, q = 3, spd_batch(6, 3, seed=6), orthogonal(3, seed=2)
    running = ref_mean(spd_batch(4, n, seed=8), "airm", 3)[None]

    def run(v: torch.Tensor) -> torch.Tensor:
        return rtn.spd_batch_norm(v.flatten(1), running, None, False, "airm", n, 0.1, 3)

    err = run(q @ x @ q.T).unflatten(-1, (n, n)) - q @ run(x).unflatten(-1, (n, n)) @ q.T
    assert err.abs().max() > 1e-2  # why the docs and GEO418 give eval mode no O(n) claim


def test_geoc_check_passes_in_training_mode_and_leaves_the_running_mean() -> None:
    module = compiled("airm", group="O(3) x S(set)")
    before = state(module, "running_mean").clone()
    report = check_module(module, trials=4)
    assert report.passed and any("reflection" in e for e in report.elements)
    assert max(row.max_error for row in report.outputs) < 1e-10
    assert torch.equal(state(module, "running_mean"), before)


def test_geoc_check_of_an_eval_module_under_rotations_is_geo418() -> None:
    module = compiled("airm", group="O(3) x S(set)").eval()
    with pytest.raises(GeoError) as err:
        check_module(module)
    diagnostic = err.value.diagnostics[0]
    assert diagnostic.code == "GEO418" and diagnostic.span is not None
    assert "module.train()" in diagnostic.help


def test_geoc_check_of_an_eval_module_checks_reordering_in_eval_mode() -> None:
    module = compiled("gbw", bias=True).eval()
    with torch.no_grad():  # a running mean away from I, so that eval mode is really used
        state(module, "running_mean").copy_(spd_batch(1, 3, seed=3)[0])
    assert check_module(module, trials=3).passed


def test_spdnet_bn_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "spdnet_bn"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "manifold membership" in out and "O(6) x S(regions)" in out


def test_spdnet_bn_equals_its_reference() -> None:
    """Brooks et al. (2019) batch norm between SPDNet's ReEig and LogEig (Huang & Van Gool
    2017), pooled over the regions into the MLP, with the module's weights."""
    module = geoc_compile("spdnet_bn", dtype=F64)
    x = spd_batch(7, 6, seed=2)
    h = x
    for _ in range(2):
        h = fn(ref_centre(h, ref_mean(h, "airm", 3), None, "airm"), lambda v: v.clamp(min=1e-4))
    s = logm(h)
    f = torch.cat([torch.linalg.eigvalsh(s), s.flatten(1).norm(dim=1, keepdim=True)], 1)
    weights = dict(module.named_parameters())
    hidden = torch.nn.functional.silu(
        f.mean(0) @ weights["logits.0.weight"].T + weights["logits.0.bias"]
    )
    logits = hidden @ weights["logits.1.weight"].T + weights["logits.1.bias"]
    out = module(x=x.flatten(1))["logits"]
    assert (out.reshape(-1) - logits).abs().max() < 1e-10


# --- depth, derivatives, capture ------------------------------------------------------------

DEEP = """model Deep() {{
    symmetry S(set)
    domain set(set)
    input x: spd(6) over set
    h = x
    repeat 20 {{
        h = spd_batch_norm(reeig(bimap(h, 6)), metric={metric}, bias=true)
    }}
    output h: spd(6) over set = h
}}
"""


@pytest.mark.parametrize("metric", METRICS)
def test_twenty_bimap_and_batch_norm_blocks_keep_spd_in_float32(metric: str) -> None:
    module = geoc_compile(DEEP.format(metric=metric), seed=1, dtype=torch.float32)
    x = spd_batch(32, 6, seed=7, dtype=torch.float32).flatten(1)
    values = record(module, {"x": x}).values
    ir = module.meta["geoc_ir"]
    for node in ir.nodes:
        mats = values[node.id].unflatten(-1, (6, 6)).double()
        assert torch.isfinite(mats).all()
        assert torch.linalg.eigvalsh(mats).min() > 0, node.id


def _loss(x: torch.Tensor, metric: str, bias: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(3, dtype=F64)[None]
    out = rtn.spd_batch_norm(x.flatten(1), eye.clone(), bias, True, metric, 3, 0.1, 2)
    w = torch.arange(out.shape[-1], dtype=F64)
    return (out * w).sum() + (out**2).sum()


@pytest.mark.parametrize("metric", METRICS)
def test_first_and_second_derivatives_are_finite_at_repeated_eigenvalues(metric: str) -> None:
    eye = torch.eye(3, dtype=F64)
    x = torch.stack([eye, eye, 2 * eye, spd_batch(1, 3, seed=1)[0]]).requires_grad_()
    bias = torch.zeros(1, 3, 3, dtype=F64, requires_grad=True)  # B = I: every tie at once
    grads = torch.autograd.grad(_loss(x, metric, bias), (x, bias), create_graph=True)
    assert all(torch.isfinite(g).all() for g in grads)
    second = torch.autograd.grad(sum((g * g).sum() for g in grads), (x, bias))
    assert all(torch.isfinite(g).all() for g in second)


@pytest.mark.slow
@pytest.mark.parametrize("metric", METRICS)
def test_first_and_second_derivatives_match_finite_differences(metric: str) -> None:
    x = spd_batch(3, 3, seed=4).requires_grad_()
    a = torch.randn(1, 3, 3, generator=gen(2), dtype=F64)
    bias = ((a + a.transpose(-1, -2)) / 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda v, b: _loss(v, metric, b), (x, bias))
    assert torch.autograd.gradgradcheck(lambda v, b: _loss(v, metric, b), (x, bias))


def test_an_empty_batch_in_training_leaves_the_running_mean() -> None:
    running = 2 * torch.eye(3, dtype=F64)[None]
    out = rtn.spd_batch_norm(torch.zeros(0, 9, dtype=F64), running, None, True, "airm", 3, 0.1, 3)
    assert out.shape == (0, 9) and torch.equal(running, 2 * torch.eye(3, dtype=F64)[None])


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False])
def test_runs_on_fake_tensors(training: bool) -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    module = compiled("airm", bias=True).train(training)
    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        x = mode.from_tensor(spd_batch(5, 3, seed=1).flatten(1))
        assert module(x=x)["y"].shape == (5, 9)


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False])
def test_spdnet_bn_captures_whole_in_both_modes(training: bool) -> None:
    module = geoc_compile("spdnet_bn").train(training)
    x = spd_batch(7, 6, seed=2, dtype=torch.float32).flatten(1)
    assert_captures(module, {"x": x}, atol=1e-5)


def test_values_over_edges_are_geo333() -> None:
    text = """model G() {
    symmetry S(nodes)
    domain graph(nodes)
    input z: spd(3) over nodes
    y = spd_batch_norm(@z[src])
    output o: spd(3) over nodes = z
}
"""
    err = assert_fails_at(text, "GEO333")
    assert "nodes" in err.diagnostics[0].help


@pytest.mark.slow
def test_exported_folder_keeps_the_running_mean_and_modes(tmp_path: Path) -> None:
    model = geoc_compile("spdnet_bn", seed=2)
    x = spd_batch(5, 6, seed=1, dtype=torch.float32).flatten(1)
    model(x=x)  # one training step: the running means move away from I
    folder = write_folder(model, tmp_path / "spdnet_bn", "specs/spdnet_bn.geo")
    assert (folder / "geoc_runtime_spd_norm.py").is_file()
    saved = torch.load(folder / "weights.pt", weights_only=True)
    means = [k for k in saved if k.endswith("running_mean")]
    assert len(means) == 2 and all(torch.equal(saved[k], model.get_buffer(k)) for k in means)
    assert not torch.equal(saved[means[0]], torch.eye(6).expand(1, 6, 6))
    out = run_exported(folder, {"x": x}, tmp_path)  # loads in training mode, as compiled
    assert torch.allclose(out["logits"], model(x=x)["logits"], atol=1e-6)


def test_save_and_load_keep_the_running_mean(tmp_path: Path) -> None:
    from geoc.backends.torch_fx import saving

    model = geoc_compile("spdnet_bn", seed=1)
    x = spd_batch(5, 6, seed=4, dtype=torch.float32).flatten(1)
    model(x=x)
    model.eval()
    loaded = saving.load(saving.save(model, tmp_path / "m")).eval()
    assert torch.equal(loaded(x=x)["logits"], model(x=x)["logits"])

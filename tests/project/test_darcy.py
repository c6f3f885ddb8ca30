"""The Darcy example: its finite-volume solver (examples/data/darcy.py) against a manufactured
solution (second order), the structure of its matrix and the symmetries of the problem, its
random coefficients against their covariance, `specs/mgno.geo` against the V-cycle written
with ``torch.nn.functional``, and a tiny end-to-end run of examples/darcy_mgno.py."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_examples import load

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.catalog import builtin_specs
from geoc.diagnostics import GeoError
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

sympy = pytest.importorskip("sympy")
pytest.importorskip("scipy")


@pytest.fixture(scope="module")
def darcy():
    return load("data/darcy.py")


def manufactured() -> tuple:
    """``u = x(1-x) y(1-y) eˣ`` (zero on the boundary, u'' ≠ 0 there, so the boundary faces'
    half-cell flux is exercised), ``a = 1 + sin(2πx) cos(πy) / 2``, ``f = -∇·(a ∇u)``."""
    x, y = sympy.symbols("x y")
    u = x * (1 - x) * y * (1 - y) * sympy.exp(x)
    a = 1 + sympy.sin(2 * sympy.pi * x) * sympy.cos(sympy.pi * y) / 2
    f = -(sympy.diff(a * sympy.diff(u, x), x) + sympy.diff(a * sympy.diff(u, y), y))
    return tuple(sympy.lambdify((x, y), e, "numpy") for e in (u, a, f))


def test_the_scheme_converges_at_second_order(darcy) -> None:
    exact, coefficient, source = manufactured()
    errors = []
    for n in (8, 16, 32, 64):
        x, y = np.meshgrid(darcy.centres(n), darcy.centres(n), indexing="ij")
        u = darcy.solve(coefficient(x, y), source(x, y))
        errors.append(float(np.sqrt(np.mean((u - exact(x, y)) ** 2))))
    ratios = [coarse / fine for coarse, fine in itertools.pairwise(errors)]
    assert all(3.7 < r < 4.3 for r in ratios), ratios
    assert errors[-1] < 5e-5


def test_the_matrix_is_a_symmetric_positive_definite_m_matrix(darcy) -> None:
    """Symmetric, positive diagonal, nonpositive neighbours, diagonally dominant (strictly in
    the boundary cells, whose faces lead to the zero boundary value), positive eigenvalues."""
    a = np.exp(darcy.log_coefficient(1, 6, torch.Generator().manual_seed(1))[0])
    matrix = darcy.darcy_matrix(a).toarray()
    assert np.array_equal(matrix, matrix.T)
    off = matrix - np.diag(np.diag(matrix))
    assert (np.diag(matrix) > 0).all() and (off <= 0).all()
    assert np.count_nonzero(off, axis=1).max() == 4
    rows = matrix.sum(axis=1).reshape(6, 6)
    assert np.allclose(rows[1:-1, 1:-1], 0.0, atol=1e-9)
    assert (rows[[0, -1], :] > 0).all() and (rows[:, [0, -1]] > 0).all()
    assert np.linalg.eigvalsh(matrix).min() > 0


def test_a_constant_coefficient_gives_the_laplacian_and_scales(darcy) -> None:
    """a = c: the five-point Laplacian / c, and u positive (maximum principle) and largest in
    the middle; scaling a by 2 halves u."""
    n = 16
    ones = np.ones((n, n))
    u = darcy.solve(ones, ones)
    assert (u > 0).all() and np.unravel_index(u.argmax(), u.shape) in {
        (7, 7),
        (7, 8),
        (8, 7),
        (8, 8),
    }
    assert np.allclose(darcy.solve(2 * ones, ones), u / 2, rtol=1e-12)
    # -Δu = 1 (the torsion problem): u = 0.0736714 at the centre (its series solution)
    assert abs(u[n // 2 - 1 : n // 2 + 1, n // 2 - 1 : n // 2 + 1].mean() - 0.0736713) < 2e-3


def test_the_solver_commutes_with_the_squares_symmetries(darcy) -> None:
    """-∇·(a∇u) = 1 with zero boundary values commutes with the square's rotations and
    reflections (f = 1 is invariant), and so does the scheme: u(g·a) = g·u(a)."""
    a = np.exp(darcy.log_coefficient(1, 12, torch.Generator().manual_seed(2))[0])
    ones = np.ones_like(a)
    u = darcy.solve(a, ones)
    for move in (np.transpose, np.flipud, np.fliplr, lambda m: np.rot90(m, 1)):
        assert np.allclose(darcy.solve(np.ascontiguousarray(move(a)), ones), move(u), atol=1e-14)


def test_the_log_coefficient_has_the_prescribed_covariance(darcy) -> None:
    """Pointwise variance Σ_k λ_k φ_k(x)² and the covariance of two points, from 4000 samples
    (their standard errors are about 2% of the values)."""
    n, samples = 8, 4000
    psi = darcy.log_coefficient(samples, n, torch.Generator().manual_seed(3))
    k = np.arange(n)
    basis = np.where(k == 0, 1.0, math.sqrt(2.0)) * np.cos(math.pi * np.outer(darcy.centres(n), k))
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    eigen = 9.0 * (math.pi**2 * (k1**2 + k2**2) + 9.0) ** (-2.0)
    phi = np.einsum("ik,jl->ijkl", basis, basis)  # φ_kl(x_i, y_j)
    covariance = np.einsum("ijkl,kl,mnkl->ijmn", phi, eigen, phi)
    empirical = np.einsum("sij,smn->ijmn", psi, psi) / samples
    assert abs(psi.mean()) < 0.05
    for point, other in (((0, 0), (0, 0)), ((3, 4), (3, 4)), ((3, 4), (5, 1)), ((0, 7), (7, 0))):
        expected = covariance[point + other]
        assert abs(empirical[point + other] - expected) < 0.08 * covariance[point + point]


def test_make_dataset_is_seeded_and_solves_each_sample(darcy) -> None:
    a, u = darcy.make_dataset(3, n=8, seed=5)
    again, _ = darcy.make_dataset(3, n=8, seed=5)
    assert torch.equal(a, again) and (a > 0).all()
    for sample in range(3):
        residual = darcy.darcy_matrix(a[sample].numpy()) @ u[sample].numpy().ravel() - 1.0
        assert np.abs(residual).max() < 1e-9


# --- specs/mgno.geo ----------------------------------------------------------------------------


PARAMS = {"channels": 2, "width": 3, "depth": 2, "smooth": 2, "post": 1}


def reference(p: dict[str, torch.Tensor], a: torch.Tensor, depth: int, smooth: int, post: int):
    """MgNO from its equations: per layer gelu(V(z) + W z + b), V the four-level V-cycle of
    zero-padded 3x3 convolutions without bias (the spec's comment), then a pointwise map. The
    weights are read by the names the compiler gives them (``repeat`` bodies are ``layers``,
    ``layers_1``, ... in the order they are written)."""

    def conv(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1)), p[name])

    def vcycle(f0: torch.Tensor, at: str) -> torch.Tensor:
        def steps(level: int, u: torch.Tensor, block: int, count: int) -> torch.Tensor:
            for j in range(count):
                body = f"{at}layers{f'_{block}' if block else ''}.{j}."
                residual = fs[level] - conv(u, f"{body}r{level}.conv.weight")
                u = u + conv(residual, f"{body}u{level}.conv.weight")
            return u

        fs, us = [f0], []
        for level in range(4):
            if level:
                residual = fs[-1] - conv(us[-1], f"{at}f{level}.sub.conv.weight")
                fs.append(F.conv2d(residual, p[f"{at}f{level}.weight"], stride=2))
            u = conv(fs[level], f"{at}u{level}.weight")
            us.append(steps(level, u, level, smooth - 1))
        for block, level in enumerate((2, 1, 0), start=4):
            coarse = F.conv_transpose2d(
                us[level + 1], p[f"{at}u{level}_1.prolong.weight"], stride=2
            )
            us[level] = steps(level, us[level] + coarse, block, post)
        return us[0]

    z = a
    for layer in range(depth):
        at = f"layers.{layer - 1}." if layer else ""
        w, b = p[f"{at}z.add.linear.weight"], p[f"{at}z.add.linear.bias"]
        skip = torch.einsum("oc,bchw->bohw", w, z) + b[:, None, None]
        z = F.gelu(vcycle(z, f"{at}vcycle.") + skip)
    return torch.einsum("oc,bchw->bohw", p["u.weight"], z)


def test_mgno_equals_its_equations() -> None:
    module = geoc_compile("mgno", PARAMS, dtype=torch.float64)
    params = dict(module.named_parameters())
    a = torch.randn(2, 2, 16, 24, dtype=torch.float64)
    expected = reference(params, a, PARAMS["depth"], PARAMS["smooth"], PARAMS["post"])
    assert (module(a=a)["u"] - expected).abs().max() < 1e-12


def test_mgno_is_typed_trivial_and_the_checker_says_why() -> None:
    """The zero-boundary grid carries no shifts: `T(2)` is GEO408, and `geoc check` says there is
    no translation group to check."""
    text = next(s for s in builtin_specs() if s.name == "mgno").resource.read_text()
    with pytest.raises(GeoError) as info:
        frontend(text.replace("symmetry trivial", "symmetry T(2)"))
    assert info.value.codes == ["GEO408"]
    report = check("mgno", {"width": 2, "depth": 1}, trials=2)
    assert report.passed and "no translation group" in report.render()


@pytest.mark.slow
def test_darcy_mgno_quick_run_compares_saves_and_reloads(tmp_path, capsys) -> None:
    example = load("darcy_mgno.py")
    assert example.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reloaded_mgno_predicts_the_same"]
    assert set(report["test_relative_l2"]) == {"MgNO", "FNO"}
    assert all(math.isfinite(e) for e in report["test_relative_l2"].values())
    assert "test relative L2 error: MgNO" in capsys.readouterr().out

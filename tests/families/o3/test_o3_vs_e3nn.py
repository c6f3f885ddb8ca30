# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""geoc's O(3) conventions against e3nn (the anchor users know), in float64.

Everything agrees to 1e-10 except the documented differences of ``docs/o3_conventions.md``,
each checked here: e3nn's real-to-complex basis carries an extra phase ``(-i)^l``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

e3nn_o3 = pytest.importorskip("e3nn.o3")
torch = pytest.importorskip("torch")

from geoc.groups import random_rotation  # noqa: E402 - after the skips
from geoc.o3 import (  # noqa: E402
    L1_BASIS,
    CoefficientCache,
    allowed_paths,
    irrep_matrix,
    real_to_complex_basis,
    so3_generators,
    spherical_harmonics,
    triangle,
    wigner_3j,
)

TOL = 1e-10
LMAX = 6


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Keep the default cache of these tests out of the user's home."""
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path_factory.mktemp("geoc-cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def e3nn_irreps(irreps: list[tuple[int, int, int]]):
    return e3nn_o3.Irreps([(mul, (l, p)) for mul, l, p in irreps])


@pytest.mark.parametrize("normalization", ["component", "integral", "norm"])
@pytest.mark.parametrize("normalize", [True, False])
def test_spherical_harmonics_match(normalization: str, normalize: bool, rng) -> None:
    x = rng.normal(size=(100, 3)) * rng.uniform(0.5, 2.0, size=(100, 1))
    for l in range(LMAX + 1):
        ours = spherical_harmonics(l, x, normalize, normalization)
        theirs = e3nn_o3.spherical_harmonics(l, torch.from_numpy(x), normalize, normalization)
        scale = max(1.0, np.abs(ours).max())  # unnormalised inputs: relative to |r|^l
        assert np.abs(ours - theirs.numpy()).max() < TOL * scale


def test_spherical_harmonics_lists_and_high_degrees_match(rng) -> None:
    x = rng.normal(size=(50, 3))
    ls = [0, 3, 1, 12, 7]
    ours = spherical_harmonics(ls, x, True, "integral")
    theirs = e3nn_o3.spherical_harmonics(ls, torch.from_numpy(x), True, "integral").numpy()
    assert np.abs(ours - theirs).max() < TOL


def test_zero_vector_harmonics_match() -> None:
    x = np.zeros((1, 3))
    ours = spherical_harmonics([0, 1, 2], x, True)
    theirs = e3nn_o3.spherical_harmonics([0, 1, 2], torch.from_numpy(x), True, "component")
    assert np.array_equal(ours, theirs.numpy())


@pytest.mark.parametrize("l", range(LMAX + 3))
def test_generators_match(l: int) -> None:
    assert np.abs(so3_generators(l) - e3nn_o3.so3_generators(l).numpy()).max() < TOL


@pytest.mark.parametrize("l", range(LMAX + 3))
def test_irrep_matrices_match_on_o3(l: int, rng) -> None:
    rs = np.stack([random_rotation(rng, 3, reflect) for reflect in (False, True) * 5])
    for p in (1, -1):
        theirs = e3nn_o3.Irrep(l, p).D_from_matrix(torch.from_numpy(rs)).numpy()
        assert np.abs(irrep_matrix(l, p, rs) - theirs).max() < TOL


def test_l1_basis_is_e3nn_cartesian_order(rng) -> None:
    """e3nn's Y^1 is sqrt(3) (x, y, z) and its D^1(R) = R: no permutation (L1_BASIS)."""
    x = rng.normal(size=(5, 3))
    y1 = e3nn_o3.spherical_harmonics(1, torch.from_numpy(x), False, "component").numpy()
    assert L1_BASIS == (0, 1, 2)
    assert np.abs(y1 - np.sqrt(3) * x[:, list(L1_BASIS)]).max() < TOL


def test_wigner_3j_match_for_every_triple_up_to_lmax() -> None:
    cache = CoefficientCache(None)
    for l1, l2, l3 in itertools.product(range(LMAX + 1), repeat=3):
        if triangle(l1, l2, l3):
            theirs = e3nn_o3.wigner_3j(l1, l2, l3).numpy()
            assert np.abs(wigner_3j(l1, l2, l3, cache) - theirs).max() < TOL, (l1, l2, l3)


def test_wigner_3j_off_the_triangle_zeros_where_e3nn_refuses() -> None:
    """Documented difference: e3nn asserts, geoc returns zeros of the full shape."""
    with pytest.raises(AssertionError):
        e3nn_o3.wigner_3j(1, 1, 3)
    assert wigner_3j(1, 1, 3).shape == (3, 3, 7) and not wigner_3j(1, 1, 3).any()


@pytest.mark.parametrize("l", range(LMAX + 1))
def test_real_basis_differs_by_the_phase_minus_i_to_the_l(l: int) -> None:
    """Documented difference: e3nn's change_basis_real_to_complex = (-i)^l U (ours is U)."""
    theirs = e3nn_o3._wigner.change_basis_real_to_complex(l, dtype=torch.float64).numpy()
    assert np.abs(theirs - (-1j) ** l * real_to_complex_basis(l)).max() < TOL


@pytest.mark.parametrize(
    ("in1", "in2", "out"),
    [
        ([(32, 0, 1), (32, 1, -1), (32, 2, 1)], [(1, 0, 1), (1, 1, -1), (1, 2, 1)], None),
        ([(16, l, (-1) ** l) for l in range(5)], [(1, l, (-1) ** l) for l in range(5)], None),
        ([(8, 0, 1), (0, 1, 1), (4, 1, -1)], [(1, 1, -1), (2, 2, -1)], [(4, 1, 1), (3, 0, -1)]),
        ([(2, 3, -1), (1, 0, -1)], [(1, 3, 1)], [(1, 0, -1), (1, 6, -1), (5, 2, 1), (1, 5, 1)]),
    ],
)
def test_allowed_paths_match_fully_connected_tensor_product(in1, in2, out) -> None:
    out = in1 if out is None else out
    tp = e3nn_o3.FullyConnectedTensorProduct(e3nn_irreps(in1), e3nn_irreps(in2), e3nn_irreps(out))
    theirs = [(ins.i_in1, ins.i_in2, ins.i_out) for ins in tp.instructions]
    assert allowed_paths(in1, in2, out) == theirs

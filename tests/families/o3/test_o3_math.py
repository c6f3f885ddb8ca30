# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""O(3) machinery against its defining identities, in float64 and without e3nn: spherical
harmonics, Wigner D, real 3j tensors, selection rules, and the coefficient cache."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from geoc.groups import random_rotation
from geoc.o3 import (
    L1_BASIS,
    CoefficientCache,
    CoefficientKind,
    allowed_paths,
    clebsch_gordan,
    irrep_matrix,
    irrep_product,
    parity_allowed,
    path_allowed,
    so3_generators,
    spherical_harmonics,
    triangle,
    wigner_3j,
    wigner_D,
)
from geoc.o3 import cache as cache_module
from geoc.o3.cache import cache_key, default_cache_dir

TOL = 1e-12
LMAX = 6


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240604)


@pytest.fixture
def memory_cache() -> CoefficientCache:
    return CoefficientCache(directory=None)


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Keep the default cache of these tests out of the user's home."""
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path_factory.mktemp("geoc-cache")))


def rotations(rng: np.random.Generator, n: int = 5, reflect: bool = False) -> list[np.ndarray]:
    return [random_rotation(rng, 3, reflect) for _ in range(n)]


def axis_rotation(axis: int, angle: float) -> np.ndarray:
    """exp(angle L_axis): right-handed rotation about a Cartesian axis."""
    i, j = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so the rotation is right-handed
    r = np.eye(3)
    r[i, i] = r[j, j] = math.cos(angle)
    r[i, j], r[j, i] = -math.sin(angle), math.sin(angle)
    return r


def levi_civita() -> np.ndarray:
    eps = np.zeros((3, 3, 3))
    for i, j, k in itertools.permutations(range(3)):
        eps[i, j, k] = np.linalg.det(np.eye(3)[[i, j, k]])
    return eps


def triples(lmax: int) -> list[tuple[int, int, int]]:
    return [t for t in itertools.product(range(lmax + 1), repeat=3) if triangle(*t)]


# --- spherical harmonics ---


@pytest.mark.parametrize("l", range(LMAX + 1))
def test_harmonics_are_equivariant(l: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=(64, 3))
    for r in rotations(rng):
        lhs = spherical_harmonics(l, x @ r.T)
        rhs = spherical_harmonics(l, x) @ wigner_D(l, r).T
        assert np.abs(lhs - rhs).max() < TOL


@pytest.mark.parametrize("l", range(LMAX + 1))
def test_harmonics_of_a_vector_are_o3_equivariant(l: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=(32, 3))
    for r in rotations(rng, reflect=True):
        rhs = spherical_harmonics(l, x) @ irrep_matrix(l, (-1) ** l, r).T
        assert np.abs(spherical_harmonics(l, x @ r.T) - rhs).max() < TOL


def test_harmonics_parity_and_homogeneity(rng: np.random.Generator) -> None:
    x = rng.normal(size=(16, 3))
    for l in range(9):
        y = spherical_harmonics(l, x, normalize=False)
        assert np.allclose(spherical_harmonics(l, -x), (-1) ** l * spherical_harmonics(l, x))
        assert np.allclose(spherical_harmonics(l, 2.5 * x, normalize=False), 2.5**l * y)


def test_low_degrees_in_the_documented_basis(rng: np.random.Generator) -> None:
    x = rng.normal(size=(8, 3))
    unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
    assert np.allclose(spherical_harmonics(0, x), 1.0)
    assert np.allclose(spherical_harmonics(1, x), math.sqrt(3) * unit[:, list(L1_BASIS)])
    # l = 2, m = 0 is the zonal harmonic about the polar axis y.
    zonal = math.sqrt(5) * (1.5 * unit[:, 1] ** 2 - 0.5)
    assert np.allclose(spherical_harmonics(2, x)[:, 2], zonal)


@pytest.mark.parametrize("lmax", [8, 12, 30])
def test_component_norm_is_2l_plus_1_even_at_high_degree(lmax: int, rng: np.random.Generator):
    """The addition theorem |Y^l(x)|^2 = 2l+1 checks every m of the recurrence at once."""
    y = spherical_harmonics(list(range(lmax + 1)), rng.normal(size=(256, 3)))
    for l in range(lmax + 1):
        block = y[:, l * l : (l + 1) ** 2]
        assert np.abs((block**2).sum(-1) - (2 * l + 1)).max() < 1e-10 * (2 * l + 1)


def test_integral_normalisation_is_orthonormal_on_the_sphere() -> None:
    """Gauss–Legendre in the polar cosine times a uniform azimuth grid is exact here."""
    lmax = 8
    cos_t, weights = np.polynomial.legendre.leggauss(lmax + 1)
    phi = 2 * np.pi * np.arange(2 * lmax + 2) / (2 * lmax + 2)
    sin_t = np.sqrt(1 - cos_t**2)
    # Polar axis y, azimuth from z towards x (the documented frame).
    pts = np.stack(
        [
            np.outer(sin_t, np.sin(phi)),
            np.outer(cos_t, np.ones_like(phi)),
            np.outer(sin_t, np.cos(phi)),
        ],
        axis=-1,
    ).reshape(-1, 3)
    w = np.outer(weights, np.full(phi.shape, 2 * np.pi / len(phi))).reshape(-1)
    y = spherical_harmonics(list(range(lmax + 1)), pts, normalization="integral")
    gram = (y * w[:, None]).T @ y
    assert np.abs(gram - np.eye(len(gram))).max() < 1e-12


def test_normalisations_differ_by_their_constants(rng: np.random.Generator) -> None:
    x = rng.normal(size=(8, 3))
    for l in range(7):
        comp = spherical_harmonics(l, x, normalization="component")
        assert np.allclose(
            spherical_harmonics(l, x, normalization="norm"), comp / math.sqrt(2 * l + 1)
        )
        integral = spherical_harmonics(l, x, normalization="integral")
        assert np.allclose(integral, comp / math.sqrt(4 * math.pi))
        assert np.allclose(
            np.linalg.norm(spherical_harmonics(l, x, normalization="norm"), axis=-1), 1
        )


def test_harmonics_of_the_zero_vector_and_degree_lists() -> None:
    y = spherical_harmonics([0, 1, 2], np.zeros((2, 3)))
    assert np.isfinite(y).all() and y.shape == (2, 9)
    assert np.array_equal(y[:, 0], [1.0, 1.0]) and not y[:, 1:].any()
    x = np.array([[0.3, -1.2, 0.7]])
    y = spherical_harmonics([2, 0, 2], x)
    assert np.array_equal(y, np.concatenate([spherical_harmonics(d, x) for d in (2, 0, 2)], -1))


@pytest.mark.parametrize(
    "args", [(-1, np.ones(3)), (1.5, np.ones(3)), ([], np.ones(3)), (1, np.ones(2))]
)
def test_harmonics_reject_bad_arguments(args: tuple) -> None:
    with pytest.raises(ValueError):
        spherical_harmonics(*args)


def test_harmonics_reject_unknown_normalisation() -> None:
    with pytest.raises(ValueError):
        spherical_harmonics(1, np.ones(3), normalization="unit")


# --- generators and Wigner D ---


@pytest.mark.parametrize("l", range(LMAX + 1))
def test_generators_form_the_real_so3_algebra(l: int, memory_cache: CoefficientCache) -> None:
    x = so3_generators(l, memory_cache)
    eps = levi_civita()
    assert x.shape == (3, 2 * l + 1, 2 * l + 1) and np.allclose(x, -np.swapaxes(x, 1, 2))
    for i, j in itertools.product(range(3), repeat=2):
        commutator = x[i] @ x[j] - x[j] @ x[i]
        assert np.abs(commutator - np.einsum("k,kab->ab", eps[i, j], x)).max() < TOL
    casimir = np.einsum("kab,kbc->ac", x, x)
    assert np.abs(casimir + l * (l + 1) * np.eye(2 * l + 1)).max() < 1e-11


def test_l1_generators_are_the_cartesian_ones() -> None:
    assert np.abs(so3_generators(1) + levi_civita()).max() < 1e-15


@pytest.mark.parametrize("l", range(LMAX + 1))
def test_generators_are_the_derivative_of_D(l: int) -> None:
    h = 1e-5
    for axis in range(3):
        diff = wigner_D(l, axis_rotation(axis, h)) - wigner_D(l, axis_rotation(axis, -h))
        assert np.abs(diff / (2 * h) - so3_generators(l)[axis]).max() < 1e-8


@pytest.mark.parametrize("l", range(LMAX + 3))
def test_D_is_an_orthogonal_homomorphism(l: int, rng: np.random.Generator) -> None:
    r = rotations(rng, 6)
    for r1, r2 in zip(r[::2], r[1::2], strict=True):
        d1 = wigner_D(l, r1)
        assert np.abs(d1 @ d1.T - np.eye(2 * l + 1)).max() < TOL
        assert np.abs(wigner_D(l, r1 @ r2) - d1 @ wigner_D(l, r2)).max() < TOL
        assert np.abs(wigner_D(l, r1.T) - d1.T).max() < TOL
    assert np.abs(wigner_D(l, np.eye(3)) - np.eye(2 * l + 1)).max() < TOL


def test_D1_is_the_rotation_itself(rng: np.random.Generator) -> None:
    perm = list(L1_BASIS)
    for r in rotations(rng, 10):
        assert np.abs(wigner_D(1, r) - r[np.ix_(perm, perm)]).max() < TOL


def test_D_is_accurate_at_the_axis_angle_edge_cases(rng: np.random.Generator) -> None:
    """Angles 0, π and near-π: where trace-based axis extraction loses digits."""
    edge = [np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0])]
    edge += [axis_rotation(k, math.pi - 1e-9) for k in range(3)]
    edge += [axis_rotation(k, 1e-13) for k in range(3)]
    n = rng.normal(size=3)
    n /= np.linalg.norm(n)
    edge.append(2 * np.outer(n, n) - np.eye(3))  # rotation by π about n
    other = random_rotation(rng, 3, False)
    for r in edge:
        assert np.abs(wigner_D(1, r) - r).max() < TOL
        for l in (2, 5):
            assert np.abs(wigner_D(l, r @ other) - wigner_D(l, r) @ wigner_D(l, other)).max() < TOL


def test_D_is_batched(rng: np.random.Generator) -> None:
    r = np.stack(rotations(rng, 4)).reshape(2, 2, 3, 3)
    d = wigner_D(3, r)
    assert d.shape == (2, 2, 7, 7)
    assert np.allclose(d[1, 0], wigner_D(3, r[1, 0]))


def test_irrep_matrix_with_reflections(rng: np.random.Generator) -> None:
    improper = rotations(rng, 4, reflect=True)
    for r in improper:
        assert np.allclose(irrep_matrix(1, -1, r), r)  # 1o: a vector
        assert np.allclose(irrep_matrix(1, 1, r), -r)  # 1e: a pseudovector (det R = -1)
        assert np.allclose(irrep_matrix(0, -1, r), -1) and np.allclose(irrep_matrix(0, 1, r), 1)
    assert np.allclose(irrep_matrix(3, -1, -np.eye(3)), -np.eye(7))
    group = improper + rotations(rng, 4)
    for l, p in itertools.product(range(4), (1, -1)):
        for r1, r2 in itertools.product(group[:4], group[4:]):
            lhs = irrep_matrix(l, p, r1 @ r2)
            assert np.abs(lhs - irrep_matrix(l, p, r1) @ irrep_matrix(l, p, r2)).max() < TOL


@pytest.mark.parametrize(
    "call",
    [
        lambda: wigner_D(1, -np.eye(3)),  # improper: needs irrep_matrix
        lambda: wigner_D(1, 2 * np.eye(3)),  # not orthogonal
        lambda: wigner_D(1, np.eye(2)),
        lambda: wigner_D(-1, np.eye(3)),
        lambda: irrep_matrix(1, 0, np.eye(3)),
    ],
)
def test_D_rejects_bad_arguments(call) -> None:
    with pytest.raises(ValueError):
        call()


# --- Wigner 3j ---


@pytest.mark.parametrize("lmax_triple", [2, 4, LMAX])
def test_3j_is_invariant_with_unit_norm(lmax_triple: int, rng: np.random.Generator) -> None:
    r = random_rotation(rng, 3, False)
    ds = {l: wigner_D(l, r) for l in range(lmax_triple + 1)}
    for l1, l2, l3 in triples(lmax_triple):
        c = wigner_3j(l1, l2, l3)
        rotated = np.einsum("ai,bj,ck,ijk->abc", ds[l1], ds[l2], ds[l3], c)
        assert np.abs(rotated - c).max() < TOL
        assert abs(np.linalg.norm(c) - 1) < TOL


def test_3j_spans_the_null_space_of_the_generator_constraints() -> None:
    """The defining equations: (X1 ⊗ 1 ⊗ 1 + 1 ⊗ X2 ⊗ 1 + 1 ⊗ 1 ⊗ X3) c = 0 for each axis."""
    for l1, l2, l3 in triples(3):
        x1, x2, x3 = (so3_generators(l) for l in (l1, l2, l3))
        i1, i2, i3 = (np.eye(2 * l + 1) for l in (l1, l2, l3))
        rows = [
            np.kron(np.kron(x1[k], i2), i3)
            + np.kron(np.kron(i1, x2[k]), i3)
            + np.kron(np.kron(i1, i2), x3[k])
            for k in range(3)
        ]
        singular = np.linalg.svd(np.concatenate(rows), compute_uv=False)
        assert (singular < 1e-10).sum() == 1
        assert np.abs(np.concatenate(rows) @ wigner_3j(l1, l2, l3).reshape(-1)).max() < TOL


def test_3j_orthogonality_and_completeness() -> None:
    for l1, l2 in itertools.product(range(4), repeat=2):
        ls = range(abs(l1 - l2), l1 + l2 + 1)
        blocks = [math.sqrt(2 * l + 1) * wigner_3j(l1, l2, l).reshape(-1, 2 * l + 1) for l in ls]
        u = np.concatenate(blocks, axis=1)  # the (l1 m1, l2 m2) -> (l m) change of basis
        assert np.abs(u.T @ u - np.eye(len(u))).max() < TOL
        assert np.abs(u @ u.T - np.eye(len(u))).max() < TOL


def test_3j_permutation_symmetry() -> None:
    """Cyclic permutations keep C; odd ones multiply it by (-1)^(l1+l2+l3)."""
    for l1, l2, l3 in triples(4):
        c, sign = wigner_3j(l1, l2, l3), (-1) ** (l1 + l2 + l3)
        assert np.abs(wigner_3j(l2, l3, l1).transpose(2, 0, 1) - c).max() < TOL
        assert np.abs(wigner_3j(l2, l1, l3).transpose(1, 0, 2) - sign * c).max() < TOL
        assert np.abs(wigner_3j(l1, l3, l2).transpose(0, 2, 1) - sign * c).max() < TOL


def test_3j_known_values_fix_the_sign_convention() -> None:
    assert np.allclose(wigner_3j(0, 0, 0), 1.0)
    assert np.allclose(wigner_3j(1, 1, 0)[:, :, 0], np.eye(3) / math.sqrt(3))
    assert np.allclose(wigner_3j(1, 1, 1), levi_civita() / math.sqrt(6))
    # Coupling two vectors to l = 2, m = 0 (polar axis y): (2 y y - x x - z z) / sqrt(30).
    assert np.allclose(wigner_3j(1, 1, 2)[:, :, 2], np.diag([-1.0, 2.0, -1.0]) / math.sqrt(30))


def test_3j_off_the_triangle_is_zero_and_read_only() -> None:
    c = wigner_3j(1, 1, 3)
    assert c.shape == (3, 3, 7) and not c.any()
    assert not wigner_3j(2, 1, 1).flags.writeable
    with pytest.raises(ValueError):
        wigner_3j(1, -1, 1)


def test_3j_is_exactly_sparse() -> None:
    """Nonzero only where ±m3 = ±m1 ± m2 (real basis mixes m with -m)."""
    c = wigner_3j(3, 2, 4)
    m1, m2, m3 = np.meshgrid(*(np.abs(np.arange(-l, l + 1)) for l in (3, 2, 4)), indexing="ij")
    possible = (m3 == m1 + m2) | (m3 == np.abs(m1 - m2))
    assert not c[~possible].any()


def test_3j_is_invariant_under_o3_exactly_when_parity_allows(rng: np.random.Generator) -> None:
    r = random_rotation(rng, 3, True)
    for (l1, l2, l3), p1, p2, p3 in itertools.product(triples(3), *[(1, -1)] * 3):
        c = wigner_3j(l1, l2, l3)
        ds = [irrep_matrix(l, p, r) for l, p in ((l1, p1), (l2, p2), (l3, p3))]
        rotated = np.einsum("ai,bj,ck,ijk->abc", *ds, c)
        expected = c if parity_allowed(p1, p2, p3) else -c
        assert np.abs(rotated - expected).max() < TOL


@pytest.mark.parametrize("lmax_triple", [LMAX])
def test_3j_cold_computation_is_fast(lmax_triple: int) -> None:
    start = time.perf_counter()
    for t in triples(lmax_triple):
        clebsch_gordan.compute_wigner_3j(*t)
    assert time.perf_counter() - start < 5.0


# --- selection rules ---


def test_triangle_and_parity() -> None:
    assert triangle(1, 1, 2) and triangle(2, 1, 1) and triangle(0, 3, 3)
    assert not triangle(1, 1, 3) and not triangle(0, 1, 2)
    assert parity_allowed(-1, -1, 1) and not parity_allowed(-1, 1, 1)
    assert path_allowed((1, -1), (1, -1), (2, 1)) and not path_allowed((1, -1), (1, -1), (2, -1))
    assert list(irrep_product((1, -1), (2, 1))) == [(1, -1), (2, -1), (3, -1)]


def test_allowed_paths_order_and_zero_multiplicities() -> None:
    in1 = [(8, 0, 1), (4, 1, -1), (0, 2, 1)]
    in2 = [(1, 0, 1), (1, 1, -1)]
    out = [(8, 0, 1), (8, 1, -1), (8, 1, 1), (8, 2, 1)]
    assert allowed_paths(in1, in2, out) == [
        (0, 0, 0),
        (0, 1, 1),
        (1, 0, 1),
        (1, 1, 0),
        (1, 1, 2),
        (1, 1, 3),
        (2, 0, 3),
        (2, 1, 1),
    ]
    with pytest.raises(ValueError):
        allowed_paths([(1, 0, 0)], in2, out)


# --- coefficient cache ---


def counting(monkeypatch) -> list[tuple[int, int, int]]:
    calls: list[tuple[int, int, int]] = []
    compute = clebsch_gordan.compute_wigner_3j

    def counted(l1: int, l2: int, l3: int) -> np.ndarray:
        calls.append((l1, l2, l3))
        return compute(l1, l2, l3)

    monkeypatch.setattr(clebsch_gordan, "compute_wigner_3j", counted)
    return calls


def entry_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("wigner_3j-*.coef"))


def test_second_call_reads_memory_then_disk(tmp_path: Path, monkeypatch) -> None:
    calls = counting(monkeypatch)
    cache = CoefficientCache(tmp_path)
    first = wigner_3j(2, 2, 2, cache)
    assert wigner_3j(2, 2, 2, cache) is first and calls == [(2, 2, 2)]
    fresh = CoefficientCache(tmp_path)  # another compile in this process: memory is empty
    assert np.array_equal(wigner_3j(2, 2, 2, fresh), first) and len(calls) == 1
    assert (fresh.stats.disk_hits, fresh.stats.computed) == (1, 0)
    assert [p.name.split("-")[:4] for p in entry_files(tmp_path)] == [["wigner_3j", "2", "2", "2"]]


def test_default_cache_is_lazy_and_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "root"
    monkeypatch.setenv("GEOC_CACHE_DIR", str(root))
    assert default_cache_dir() == root / "o3-v1"
    CoefficientCache(default_cache_dir())
    assert not root.exists()  # created on the first write only
    wigner_3j(3, 1, 2)
    assert len(entry_files(root / "o3-v1")) == 1
    monkeypatch.delenv("GEOC_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "geoc" / "o3-v1"


_FRESH_PROCESS = textwrap.dedent(
    """
    import numpy as np
    from geoc.o3 import clebsch_gordan, default_cache, wigner_3j

    def forbidden(*args):
        raise AssertionError("recomputed")

    clebsch_gordan.compute_wigner_3j = forbidden
    c = wigner_3j(3, 2, 4)
    print(default_cache().stats.disk_hits, float(np.abs(c).sum()))
    """
)


def test_a_fresh_process_reads_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path))
    expected = wigner_3j(3, 2, 4)
    env = {**os.environ, "GEOC_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    hits, total = proc.stdout.split()
    assert hits == "1" and float(total) == pytest.approx(float(np.abs(expected).sum()), rel=1e-15)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],  # torn write
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one flipped bit in the payload
        lambda data: b"not a cache file at all",
    ],
)
def test_corrupted_entries_are_recomputed(tmp_path: Path, monkeypatch, damage) -> None:
    good = np.array(wigner_3j(2, 1, 1, CoefficientCache(tmp_path)))
    (path,) = entry_files(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    calls = counting(monkeypatch)
    fresh = CoefficientCache(tmp_path)
    assert np.array_equal(wigner_3j(2, 1, 1, fresh), good) and calls == [(2, 1, 1)]
    # ...and the entry is healed for the next reader.
    assert np.array_equal(wigner_3j(2, 1, 1, CoefficientCache(tmp_path)), good)
    assert len(calls) == 1


def test_unreadable_entry_is_recomputed(tmp_path: Path) -> None:
    cache = CoefficientCache(tmp_path)
    kind, ls = CoefficientKind.WIGNER_3J, (1, 1, 1)
    cache._path(kind, ls, cache_key(kind, ls)).mkdir(parents=True)  # a folder, not a file
    assert np.allclose(wigner_3j(1, 1, 1, cache), levi_civita() / math.sqrt(6))


def test_unwritable_folder_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = CoefficientCache(blocker / "o3-v1")  # cannot be created under a regular file
    c = wigner_3j(2, 2, 0, cache)
    assert not cache.persistent and np.allclose(np.linalg.norm(c), 1)
    assert wigner_3j(2, 2, 0, cache) is c and cache.stats.memory_hits == 1


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    cache = CoefficientCache(tmp_path)
    for t in triples(2):
        wigner_3j(*t, cache)
    assert len(entry_files(tmp_path)) == len(triples(2))
    assert not list(tmp_path.glob("*.geoc-tmp"))


def test_keys_hash_kind_degrees_and_version(monkeypatch) -> None:
    key = cache_key(CoefficientKind.WIGNER_3J, (1, 2, 3))
    assert len(key) == 64 and key != cache_key(CoefficientKind.WIGNER_3J, (1, 3, 2))
    assert key != cache_key(CoefficientKind.SO3_GENERATORS, (1, 2, 3))
    monkeypatch.setattr(cache_module, "CACHE_VERSION", "o3-v2")
    assert key != cache_key(CoefficientKind.WIGNER_3J, (1, 2, 3))


def test_memory_layer_is_a_bounded_lru() -> None:
    cache = CoefficientCache(None, maxsize=2)
    a = wigner_3j(1, 1, 0, cache)
    wigner_3j(1, 1, 1, cache)
    assert wigner_3j(1, 1, 0, cache) is a  # refreshes (1, 1, 0)
    wigner_3j(1, 1, 2, cache)  # evicts (1, 1, 1)
    assert wigner_3j(1, 1, 0, cache) is a
    assert cache.stats.computed == 3
    wigner_3j(1, 1, 1, cache)
    assert cache.stats.computed == 4

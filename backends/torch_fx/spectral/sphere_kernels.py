# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Grids of the sphere and their transform tables, in torch: quadrature, Legendre tables, and
the tables of the grid an input is on, built once per grid and cached (docs/spectral.md,
"Other grids").

Copied next to exported models (imports only torch, math and typing). A sphere model is
compiled for one grid (its tables are buffers); its weights live on the spherical-harmonic
degrees and orders below the band limit, which does not depend on the grid, so the same model
runs on any grid that holds the band: the grid's size is the input's ``[nlat, nlon]``, its kind
(``equiangular`` or ``legendre_gauss``) the compile option ``sphere_grid``. The tables of a new
grid are built here on the host in float64, once per (kind, nlat, nlon, band, dtype, device),
and reused by every later call: a forward reads no data on the host, and under
``torch.compile`` the lookup is a constant of the graph (:func:`torch.compiler.
assume_constant_result`), traced at a fixed grid. Conventions are those of ``plan.py``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.validate_kernels import InputError

GRIDS = ("equiangular", "legendre_gauss")
#: The tables built so far: (kind, nlat, nlon, lmax, mmax, dtype, device) -> (forward, inverse).
_TABLES: dict[tuple, tuple[Tensor, Tensor]] = {}
_LATITUDES: dict[tuple, Tensor] = {}


def default_lmax(nlat: int, grid: str) -> int:
    """Degrees ``l < lmax`` whose products the quadrature integrates exactly: Gauss-Legendre
    on ``nlat`` nodes to polynomial degree ``2 nlat - 1`` (``lmax = nlat``), Clenshaw-Curtis to
    ``nlat - 1`` (``2 (lmax - 1) ≤ nlat - 1``)."""
    _check_grid(grid)
    return nlat if grid == "legendre_gauss" else (nlat + 1) // 2


def resolved_lmax(nlat: int, nlon: int, grid: str) -> int:
    """The largest band the grid holds exactly: the quadrature's, and every order below the
    longitude Nyquist order ``nlon / 2`` (whose imaginary part the grid cannot carry)."""
    return min(default_lmax(nlat, grid), (nlon + 1) // 2)


def minimum_grid(lmax: int, grid: str) -> tuple[int, int]:
    """The coarsest ``(nlat, nlon)`` of kind ``grid`` whose :func:`resolved_lmax` is ``lmax``."""
    nlat = lmax if grid == "legendre_gauss" else max(2, 2 * lmax - 1)
    return nlat, max(1, 2 * lmax - 1)


def gauss_legendre(n: int) -> tuple[Tensor, Tensor]:
    """Gauss-Legendre nodes ``x_j`` (descending: north to south) and weights, float64: Newton's
    iteration on ``P_n`` from Tricomi's initial guesses ``cos(π (j + 3/4) / (n + 1/2))``, which
    converges quadratically to every root; ``w_j = 2 / ((1 - x_j²) P_n'(x_j)²)``."""
    j = torch.arange(n, dtype=torch.float64)
    x = torch.cos(math.pi * (j + 0.75) / (n + 0.5))
    for _ in range(100):
        p, dp = _legendre_and_derivative(n, x)
        step = p / dp
        x = x - step
        if float(step.abs().max()) < 1e-16:
            break
    _, dp = _legendre_and_derivative(n, x)
    return x, 2.0 / ((1.0 - x * x) * dp * dp)


def _legendre_and_derivative(n: int, x: Tensor) -> tuple[Tensor, Tensor]:
    """``P_n(x)`` and ``P_n'(x)`` by Bonnet's recurrence (``x`` inside ``(-1, 1)``)."""
    before, p = torch.ones_like(x), x
    if n == 0:
        return before, torch.zeros_like(x)
    for k in range(2, n + 1):
        before, p = p, ((2 * k - 1) * x * p - (k - 1) * before) / k
    return p, n * (x * p - before) / (x * x - 1.0)


def clenshaw_curtis(n: int) -> Tensor:
    """Clenshaw-Curtis weights on ``x_j = cos(πj / (n-1))`` (Trefethen, "Spectral Methods in
    MATLAB", ch. 12, ``clencurt``): ``w_j = c_j / N (1 - Σ_k b_k cos(2kθ_j) / (4k² - 1))``,
    ``N = n - 1``, ``c`` = 1 at the ends else 2, ``b_k`` = 1 for ``k = N/2`` else 2."""
    if n < 2:
        raise ValueError(f"Clenshaw-Curtis needs at least 2 nodes, got {n}")
    big_n = n - 1
    theta = math.pi * torch.arange(n, dtype=torch.float64) / big_n
    k = torch.arange(1, big_n // 2 + 1, dtype=torch.float64)
    b = torch.where(2 * k == big_n, 1.0, 2.0).to(torch.float64)
    series = (b / (4.0 * k * k - 1.0)) @ torch.cos(2.0 * torch.outer(k, theta))
    ends = torch.full((n,), 2.0, dtype=torch.float64)
    ends[0] = ends[-1] = 1.0
    return ends / big_n * (1.0 - series)


def quadrature(nlat: int, grid: str) -> tuple[Tensor, Tensor]:
    """``(cos θ_j, w_j)``, north to south, with ``Σ_j w_j g(cos θ_j) ≈ ∫_{-1}^{1} g(x) dx``."""
    _check_grid(grid)
    if grid == "legendre_gauss":
        return gauss_legendre(nlat)
    return torch.cos(colatitudes(nlat, grid)), clenshaw_curtis(nlat)


def colatitudes(nlat: int, grid: str) -> Tensor:
    """``θ_j`` in ``[0, π]``, north to south, float64."""
    _check_grid(grid)
    if grid == "legendre_gauss":
        return torch.arccos(gauss_legendre(nlat)[0])
    return math.pi * torch.arange(nlat, dtype=torch.float64) / (nlat - 1)


def legendre(lmax: int, mmax: int, x: Tensor) -> Tensor:
    """``P̄_lm(x)`` ``[mmax, lmax, len(x)]``, zero for ``m > l``: orthonormal on the sphere
    with the Condon-Shortley phase, by the standard stable three-term recurrence in ``l``
    from ``P̄_mm = (-1)^m √((2m+1)/(4π) (2m-1)!!/(2m)!!) sin^m θ``."""
    x = x.to(torch.float64)
    sin = torch.sqrt((1.0 - x) * (1.0 + x))
    rows: list[list[Tensor]] = []
    diagonal = torch.full_like(x, 1.0 / math.sqrt(4.0 * math.pi))
    zero = torch.zeros_like(x)
    for m in range(mmax):
        if 0 < m < lmax:
            diagonal = -math.sqrt((2 * m + 1) / (2 * m)) * sin * diagonal
        row = [zero] * min(m, lmax)
        if m < lmax:
            row.append(diagonal)
        if m + 1 < lmax:
            row.append(math.sqrt(2 * m + 3) * x * diagonal)
        for l in range(m + 2, lmax):
            a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            row.append(a * (x * row[l - 1] - b * row[l - 2]))
        rows.append(row)
    return torch.stack([torch.stack(r) for r in rows]).reshape(mmax, lmax, x.numel())


def sht_tables(nlat: int, nlon: int, lmax: int, mmax: int, grid: str) -> tuple[Tensor, Tensor]:
    """``(forward, inverse)``, float64 ``[mmax, lmax, nlat]``: ``inverse[m, l, j] =
    P̄_lm(cos θ_j)``, ``forward[m, l, j] = (2π / nlon) w_j P̄_lm(cos θ_j)`` (the longitude
    quadrature folded in, so the kernels' unscaled rfft then ``forward`` is the transform)."""
    if nlat < 2 or nlon < 1:
        raise ValueError(f"grid {nlat}x{nlon} too small")
    if lmax < 1 or not 1 <= mmax <= nlon // 2 + 1:
        raise ValueError(f"need lmax >= 1 and 1 <= mmax={mmax} <= nlon//2+1 = {nlon // 2 + 1}")
    x, w = quadrature(nlat, grid)
    inverse = legendre(lmax, mmax, x)
    return inverse * (w * (2.0 * math.pi / nlon)), inverse


# --- the tables of the input's grid -------------------------------------------------------


def grid_tables(
    like: Tensor,
    forward: Tensor,
    inverse: Tensor,
    native: tuple[str, int, int],
    grid: str,
    lmax: int,
    name: str,
) -> tuple[Tensor, Tensor]:
    """The transform tables of the grid of ``like`` (``[..., nlat, nlon]``, of kind ``grid``):
    the module's own buffers ``forward`` / ``inverse`` on its native grid ``native = (kind,
    nlat, nlon)``, else those of the new grid, built once (:data:`_TABLES`). A grid that cannot
    hold the band ``lmax`` is refused (GEO662, naming the input ``name``)."""
    nlat, nlon = like.shape[-2], like.shape[-1]
    if (grid, nlat, nlon) == native:
        return forward, inverse
    nlat, nlon = _concrete(nlat), _concrete(nlon)
    _check_band(nlat, nlon, grid, lmax, name)
    mmax = forward.shape[0]
    tables = _cached_tables(grid, nlat, nlon, lmax, mmax, forward.dtype, like.device)
    return _traced(tables[0], like), _traced(tables[1], like)


def grid_latitudes(like: Tensor, table: Tensor, native: tuple[str, int, int], grid: str) -> Tensor:
    """The latitudes ``π/2 - θ_j`` of the grid of ``like``: the module's ``table`` on its native
    grid, else built once per grid (:data:`_LATITUDES`)."""
    nlat, nlon = like.shape[-2], like.shape[-1]
    if (grid, nlat, nlon) == native:
        return table
    return _traced(_cached_latitudes(grid, _concrete(nlat), table.dtype, like.device), like)


def longitude_count(like: Tensor) -> int:
    """``nlon`` of the grid of ``like`` (``[..., nlat, nlon]``): the width a synthesis fills."""
    return like.shape[-1]


def _concrete(size: int) -> int:
    """A grid size as a plain int. Under ``torch.compile`` with dynamic shapes a size is a
    symbol; ``len(range(size))`` makes dynamo specialise it (a guard: the graph is for this
    grid, another grid recompiles), so the tables stay constants of the graph."""
    return len(range(size))


def _check_band(nlat: int, nlon: int, grid: str, lmax: int, name: str) -> None:
    if resolved_lmax(nlat, nlon, grid) >= lmax:
        return
    low_lat, low_lon = minimum_grid(lmax, grid)
    raise InputError(
        "GEO662",
        name,
        f"the {grid} grid {nlat}x{nlon} cannot hold the model's band limit (degrees l < "
        f"{lmax}): the smallest {grid} grid that does is {low_lat}x{low_lon} (nlat >= "
        f"{low_lat}, nlon >= {low_lon}); resample the input to it or a finer one",
    )


@torch.compiler.assume_constant_result
def _cached_tables(
    grid: str, nlat: int, nlon: int, lmax: int, mmax: int, dtype: torch.dtype, device: object
) -> tuple[Tensor, Tensor]:
    """Built on the host in float64 the first time, then cast and moved once; under
    ``torch.compile`` a constant of the graph."""
    key = (grid, nlat, nlon, lmax, mmax, dtype, torch.device(device))
    if key not in _TABLES:
        with _real_tensors():
            tables = sht_tables(nlat, nlon, lmax, mmax, grid)
            _TABLES[key] = tuple(t.to(device=device, dtype=dtype) for t in tables)
    return _TABLES[key]


@torch.compiler.assume_constant_result
def _cached_latitudes(grid: str, nlat: int, dtype: torch.dtype, device: object) -> Tensor:
    key = (grid, nlat, dtype, torch.device(device))
    if key not in _LATITUDES:
        with _real_tensors():
            rows = math.pi / 2 - colatitudes(nlat, grid)
            _LATITUDES[key] = rows.to(device=device, dtype=dtype)
    return _LATITUDES[key]


def _real_tensors():
    """Tables hold values even when built during a run on fake tensors (a tracer's): the fake
    mode, if any, is lifted while they are built."""
    unset = getattr(torch._subclasses.fake_tensor, "unset_fake_temporarily", None)
    return unset() if unset is not None else _Nothing()


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _traced(table: Tensor, like: Tensor) -> Tensor:
    """``table`` as a tensor of ``like``'s kind: under a fake mode (a tracer running without
    data) its fake twin; otherwise itself."""
    if type(like) is Tensor or torch.compiler.is_compiling():
        return table
    detect = getattr(torch._guards, "detect_fake_mode", None)
    mode = detect(like) if detect is not None else None
    return table if mode is None else mode.from_tensor(table)


def _check_grid(grid: str) -> None:
    if grid not in GRIDS:
        raise ValueError(f"unknown sphere grid {grid!r}: expected one of {sorted(GRIDS)}")

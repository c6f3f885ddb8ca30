"""Numeric symmetry checks of fields on grid domains (torus and sphere), for ``geoc check``.

What holds exactly on a discrete grid, and what only approximately:

* **Torus**, ``T(d)``: a cyclic shift by whole grid steps permutes the grid points, and every
  operator (pointwise maps, the Fourier layer) commutes with it exactly: held to the exact law
  (``verify/laws.py``).
* **Square torus**, ``C(4)`` / ``D(4)`` (with ``T(2)``): a rotation by 90° or a reflection
  about the origin, ``p -> g p mod n``, then a shift, permutes the grid points; ``regular``
  channels are permuted by ``ρ(g)`` (docs/gcnn.md). Exact: held to the exact law.
* **Sphere**, ``SO(3)`` or ``SO(2)``: a rotation about the pole by a multiple of 2π/nlon
  permutes the grid points (a roll along longitude); every operator commutes with it exactly:
  held to the exact law, like the torus.
* **Sphere**, ``SO(3)``, any rotation: it moves values between grid points, so it only acts on
  band-limited fields (through their spherical-harmonic coefficients and Wigner D). Inputs are
  band-limited; the outputs' coefficients up to the grid's exact degree are compared:
  ``sht(f(R·x))`` against ``D(R)·sht(f(x))``. An output whose path is polynomial of degree at
  most 2 in the fields (linear spectral layers, sums, one product) is held to the exact law;
  behind a non-polynomial operator the grid aliases the degrees it creates, and only there the
  error is held to the stated relative tolerance (:data:`BAND_LIMITED_RTOL`, see
  :func:`band_limited_laws` and ``verify/laws.py``).

Conventions: the roll by ``k`` steps is ``x'[..., j] = x[..., j - k]``, i.e. ``f'(p) =
f(R⁻¹p)`` with ``R`` the rotation by ``+k·2π/nlon``; spherical-harmonic coefficients ``c[l, m]``
then pick up the phase ``exp(-i m k 2π/nlon)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, fx

from geoc.backends.torch_fx.domains import DomainRules, Sample
from geoc.backends.torch_fx.manifold.verify import draw_value, needs_manifold_draw
from geoc.domains import Domain, DomainKind, is_spectrum_axis
from geoc.domains.grid import (
    axis_scale,
    is_canonical_axis,
    is_field_axis,
    is_fourier_axis,
    rotates_grid,
)
from geoc.groups import GroupElement, sample_matrix
from geoc.ir import Graph
from geoc.types import AtomKind, FeatureType

if TYPE_CHECKING:
    from geoc.backends.torch_fx.lower import LowerCtx

#: Relative tolerance of the band-limited rotation check on outputs behind a non-polynomial
#: operator (aliasing; see the module docstring). The built-in SFNO, with random parameters,
#: stays well below it (the measured figure is always reported).
BAND_LIMITED_RTOL = 0.05
#: The smallest batch fields are checked on: several samples, so no kernel can mix them.
FIELD_BATCH = 3


def field_batch(domain: Domain, graphs: int = 1) -> int:
    """The batch size of a check: at least ``FIELD_BATCH`` (and ``graphs``) and unlike every
    grid size, so a per-sample global value ``[B, C]`` that tensor broadcasting lined up with a
    grid axis instead of the batch fails loudly rather than passing by coincidence."""
    batch = max(FIELD_BATCH, graphs)
    while batch in domain.grid:
        batch += 1
    return batch


@dataclass(frozen=True)
class GridMove:
    """A symmetry acting on a grid: a cyclic shift per torus dimension, a polar rotation by
    whole longitude steps, or (band-limited) a general rotation of the sphere."""

    domain: Domain
    shifts: tuple[int, ...] = ()  # torus: steps per grid dimension; sphere: (longitude steps,)
    rotation: np.ndarray | None = None  # sphere: a general rotation (approximate check only)
    # A square 2-D torus under C(4) / D(4) (docs/gcnn.md): the integer matrix g that maps the
    # grid point p to g p (before the shift), and the regular representation ρ(g), which
    # permutes each `regular` block of channels.
    linear: np.ndarray | None = None
    regular: np.ndarray | None = None

    @property
    def label(self) -> str:
        if self.rotation is not None:
            return "band-limited rotation"
        if self.linear is not None:
            turn = "reflection" if round(np.linalg.det(self.linear)) < 0 else "rotation"
            return f"grid {turn}" + (", cyclic shift" if any(self.shifts) else "")
        if self.domain.kind is DomainKind.TORUS:
            return "cyclic shift"
        return "polar rotation by grid steps"

    def apply(self, value: Tensor, ftype: FeatureType) -> Tensor:
        """``g·value`` for a field (``[batch, channels, *grid]``) or its SH coefficients."""
        if is_spectrum_axis(ftype.axes[0]):
            return self._move_coefficients(value)
        if is_fourier_axis(ftype.axes[0]):
            return self._turn_phases(value)
        if self.rotation is not None:
            from geoc.backends.torch_fx.spectral.rotation import rotate_field

            nlat, nlon = self.domain.grid
            quad = self.domain.quadrature or "equiangular"
            return rotate_field(value, self.rotation, nlat, nlon, quad, exact_lmax(self.domain))
        if is_canonical_axis(ftype.axes[0]):  # turned canonical: only its channels move
            return value if self.linear is None else self._permute_channels(value, ftype)
        dims = tuple(range(value.ndim - len(self.shifts), value.ndim))
        found = axis_scale(ftype.axes[0])
        if found and found[1] != 1 and self.linear is None:  # a coarser or finer torus
            moved = [s * found[1] for s in self.shifts]
            assert all(m.denominator == 1 for m in moved), "typed: whole points of its grid"
            return torch.roll(value, tuple(int(m) for m in moved), dims)
        if self.linear is not None:
            value = self._turn(self._permute_channels(value, ftype))
        return torch.roll(value, self.shifts, dims)

    def _turn(self, value: Tensor) -> Tensor:
        """``f'(p) = f(g⁻¹ p mod n)`` on a 2-D grid (g a signed permutation matrix). Each
        coordinate of ``g⁻¹ p`` is taken modulo the size of the axis it indexes: a rectangle
        carries the flips and the half turn; an axis swap (90°, diagonal flips) needs a square
        grid, which the torus's symmetry rule demands (GEO408)."""
        sizes = np.array(self.domain.grid)
        points = np.stack(np.meshgrid(*(np.arange(n) for n in sizes), indexing="ij"))
        source = np.einsum("ji,jab->iab", self.linear, points)  # g⁻¹ = gᵀ
        source %= sizes[:, None, None]
        rows, cols = (torch.as_tensor(s, device=value.device) for s in source)
        return value[..., rows, cols]

    def _permute_channels(self, value: Tensor, ftype: FeatureType) -> Tensor:
        """Each `regular` block ``v`` of the channels becomes ``ρ(g) v``; scalars stay."""
        order = len(self.regular)
        reads = np.argmax(self.regular, axis=1)  # (ρ v)[y] = v[reads[y]]
        index, at = [], 0
        for term in ftype.terms:
            width = order if term.atom.kind is AtomKind.REGULAR else 1
            for _ in range(term.mul):
                index.extend(at + (reads if width == order else np.zeros(1, dtype=int)))
                at += width
        channel = value.ndim - len(self.domain.grid) - 1
        return value.index_select(channel, torch.as_tensor(index, device=value.device))

    def _turn_phases(self, coeffs: Tensor) -> Tensor:
        """Fourier coefficients ``[B, C, 2 m_1, ..., m_d]`` (``geoc.ops.fourier``) of a field
        shifted by ``t``: the mode ``k`` times ``exp(-2πi k·t/n)``, in float64."""
        assert self.linear is None, "typed: Fourier coefficients under shifts only"
        angle = torch.zeros(coeffs.shape[2:], dtype=torch.float64, device=coeffs.device)
        last = len(self.shifts) - 1
        for j, (t, n) in enumerate(zip(self.shifts, self.domain.grid, strict=True)):
            size = coeffs.shape[2 + j]
            k = torch.arange(size, dtype=torch.float64, device=coeffs.device)
            if j < last:  # 0..m-1, then -m..-1
                k = torch.where(k < size // 2, k, k - size)
            view = [1] * angle.dim()
            view[j] = size
            angle = angle - 2 * math.pi * t / n * k.view(view)
        return coeffs * torch.polar(torch.ones_like(angle), angle).to(coeffs.dtype)

    def _move_coefficients(self, coeffs: Tensor) -> Tensor:
        if self.rotation is not None:
            from geoc.backends.torch_fx.spectral.rotation import rotate_coefficients

            return rotate_coefficients(coeffs, self.rotation)
        nlon = self.domain.grid[1]
        m = torch.arange(coeffs.shape[-1], dtype=torch.float64, device=coeffs.device)
        angle = -2 * math.pi * self.shifts[0] / nlon * m
        return coeffs * torch.polar(torch.ones_like(angle), angle).to(coeffs.dtype)


def exact_lmax(domain: Domain) -> int:
    """The band limit this grid holds exactly: its quadrature integrates products of such
    fields, and their orders stay below the longitude Nyquist order (the bound the typing
    rules enforce under SO(3), :func:`geoc.ops.spectral.exact_lmax`)."""
    from geoc.ops.spectral import exact_lmax as typed_exact_lmax

    return typed_exact_lmax(domain)


def input_lmax(domain: Domain) -> int:
    """The band limit of the rotation check's inputs: room for a square to stay resolved."""
    return max(1, exact_lmax(domain) // 2)


def is_field_type(ftype: FeatureType) -> bool:
    return bool(ftype.axes) and is_field_axis(ftype.axes[0])


# ---------------------------------------------------------------------------------------------
# Inputs and elements


def draw_field_inputs(
    ir: Graph,
    rng: np.random.Generator,
    dtype: torch.dtype,
    band_limited: bool = False,
    graphs: int = 1,
) -> dict[str, Any]:
    """Random inputs of a batch of :func:`field_batch` samples: fields ``[B, channels, *grid]``
    (band-limited on request, for the rotation check) and global values per sample,
    ``[B, channels]``, as a module is called on a batch."""
    batch = field_batch(ir.domain, graphs)
    out = {}
    for name, port in ir.inputs.items():
        width = ir.group.type_dim(port.type)
        if band_limited and port.type.axes == ("sphere",):
            from geoc.backends.torch_fx.spectral.rotation import band_limited_field

            nlat, nlon = ir.domain.grid
            quad = ir.domain.quadrature or "equiangular"
            lmax = input_lmax(ir.domain)
            value = band_limited_field(rng, (batch, width), nlat, nlon, quad, lmax)
        elif port.type.axes and needs_manifold_draw(port.type):  # a point per grid point
            points = draw_value(ir.group, port.type, rng, (batch, *ir.domain.grid))
            value = torch.as_tensor(np.moveaxis(points, -1, 1))
        elif port.type.axes:
            value = torch.as_tensor(rng.normal(size=(batch, width, *ir.domain.grid)))
        else:
            value = torch.as_tensor(rng.normal(size=(batch, width)))
        out[name] = value.to(dtype)
    return out


def draw_grid_element(ir: Graph, rng: np.random.Generator) -> GroupElement:
    """An element of the grid's exact symmetry: a cyclic shift, or a polar rotation by whole
    longitude steps (never the identity, so every trial moves the grid)."""
    if not ir.group.factors:
        return GroupElement(label="identity")
    if rotates_grid(ir.group):
        return _grid_rotation_element(ir, rng)
    grid = ir.domain.grid if ir.domain.kind is DomainKind.TORUS else ir.domain.grid[1:]
    step = ir.group.geometric.step if ir.group.geometric else 1  # T(d, step=k): multiples of k
    shifts = tuple(step * int(rng.integers(1, n // step)) if n > step else 0 for n in grid)
    move = GridMove(ir.domain, shifts)
    return GroupElement(grid_move=move, label=move.label)


def _grid_rotation_element(ir: Graph, rng: np.random.Generator) -> GroupElement:
    """A rotation or reflection of the square grid other than the identity (C(4) / D(4)),
    followed by a random cyclic shift when ``T(2)`` is a factor."""
    factor = ir.group.matrix
    matrix, kind = sample_matrix(factor, rng)
    if ir.group.translations:
        shifts = tuple(int(rng.integers(1, n)) for n in ir.domain.grid)
    else:
        shifts = (0,) * len(ir.domain.grid)
    linear = np.rint(matrix).astype(np.int64)
    move = GridMove(ir.domain, shifts, linear=linear, regular=factor.solver.regular_matrix(matrix))
    return GroupElement(grid_move=move, label=move.label, matrix=matrix, matrix_kind=kind)


def grid_law(ir: Graph) -> str:
    """What the exact trials of a torus under C(4) / D(4) moved (empty otherwise)."""
    if not rotates_grid(ir.group):
        return ""
    grid = "x".join(map(str, ir.domain.grid))
    shifts = " and cyclic shifts" if ir.group.translations else ""
    turns = "rotations by 90°" + (" and reflections" if ir.group.matrix.family == "D" else "")
    return (
        f"{turns}{shifts} of the {grid} grid permute its points (and `regular` channels by "
        "ρ(g)); checked to the tolerance above"
    )


def sphere_rotation_element(ir: Graph, rng: np.random.Generator) -> GroupElement:
    from geoc.groups import random_rotation

    move = GridMove(ir.domain, rotation=random_rotation(rng, 3, reflect=False))
    return GroupElement(rotation=move.rotation, grid_move=move, label=move.label)


def has_band_limited_check(ir: Graph) -> bool:
    """Whether the group holds rotations beyond the grid's own (SO(3) on a sphere)."""
    geo = ir.group.geometric
    return ir.domain.kind is DomainKind.SPHERE and geo is not None and geo.n == 3


# ---------------------------------------------------------------------------------------------
# The band-limited rotation check


@dataclass(frozen=True)
class BandLimitedRow:
    """One output's band-limited rotation error, relative to its largest coefficient, with the
    tolerance of its law and why it is that (exact to rounding, or the aliasing bound)."""

    name: str
    rel_error: float
    rtol: float
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.rel_error < self.rtol  # False for NaN


def merge_rows(rows: list[BandLimitedRow], more: list[BandLimitedRow]) -> list[BandLimitedRow]:
    """The worse row per output of two sets of trials (NaN counts as worst)."""
    if not rows:
        return list(more)
    by_name = {row.name: row for row in more}
    return [_worse(row, by_name.get(row.name, row)) for row in rows]


def _worse(a: BandLimitedRow, b: BandLimitedRow) -> BandLimitedRow:
    return b if math.isnan(b.rel_error) or b.rel_error > a.rel_error else a


def band_limited_laws(ir: Graph, dtype: torch.dtype) -> dict[str, tuple[float, str]]:
    """Per field output: its tolerance and the reason. Inputs are band-limited to half the
    grid's exact degree, so a path of polynomial degree 2 or less (linear layers, sums, one
    product of two fields) stays resolved and is held to the exact law; only a path through a
    non-polynomial operator, or of higher degree, may alias and gets :data:`BAND_LIMITED_RTOL`.
    """
    from geoc.backends.torch_fx.verify.laws import exact_rtol, field_degrees

    degrees, exact = field_degrees(ir), exact_lmax(ir.domain)
    laws = {}
    for name, port in ir.outputs.items():
        degree = degrees[port.value.node]
        if degree.degree * input_lmax(ir.domain) <= exact:
            why = f"exact law: degree {degree.degree:g} in the fields stays within l <= {exact}"
            laws[name] = (exact_rtol(dtype), why)
            continue
        culprit = degree.raised_by
        where = f" at {culprit.span.line}:{culprit.span.col}" if culprit and culprit.span else ""
        op = f"`{culprit.op}`{where}" if culprit else "its path"
        laws[name] = (BAND_LIMITED_RTOL, f"aliasing bound: {op} creates degrees above l = {exact}")
    return laws


def band_limited_rows(
    module: fx.GraphModule, ir: Graph, rng: np.random.Generator, trials: int, dtype: torch.dtype
) -> list[BandLimitedRow]:
    """Per field output: the worst ``|sht(f(R·x)) - D(R)·sht(f(x))| / max|sht(f(x))|`` over
    ``trials`` random rotations and band-limited inputs (coefficients below the exact degree)."""
    from geoc.backends.torch_fx.spectral.rotation import rotate_coefficients, rotate_field

    nlat, nlon = ir.domain.grid
    quad = ir.domain.quadrature or "equiangular"
    lmax = exact_lmax(ir.domain)
    worst = {name: 0.0 for name, p in ir.outputs.items() if p.type.axes == ("sphere",)}
    device = next((t.device for t in module.parameters()), torch.device("cpu"))
    for _ in range(trials):
        inputs = draw_field_inputs(ir, rng, dtype, band_limited=True)
        rotation = sphere_rotation_element(ir, rng).rotation
        moved = {
            k: rotate_field(v, rotation, nlat, nlon, quad, lmax) if ir.inputs[k].type.axes else v
            for k, v in inputs.items()
        }
        with torch.no_grad():
            before = module(**{k: v.to(device) for k, v in inputs.items()})
            after = module(**{k: v.to(device) for k, v in moved.items()})
        for name in worst:
            want = rotate_coefficients(_coefficients(before[name], ir, lmax), rotation)
            got = _coefficients(after[name], ir, lmax)
            scale = float(want.abs().max())
            error = float((got - want).abs().max()) / max(scale, 1e-300)
            worst[name] = error if math.isnan(error) else max(worst[name], error)
    laws = band_limited_laws(ir, dtype)
    return [BandLimitedRow(name, err, *laws[name]) for name, err in worst.items()]


def _coefficients(field: Tensor, ir: Graph, lmax: int) -> Tensor:
    from geoc.backends.torch_fx.spectral.kernels import sht
    from geoc.backends.torch_fx.spectral.plan import sht_tables

    nlat, nlon = ir.domain.grid
    mmax = min(lmax, nlon // 2 + 1)
    forward, _ = sht_tables(nlat, nlon, lmax, mmax, ir.domain.quadrature or "equiangular")
    table = torch.as_tensor(forward, dtype=torch.float64, device=field.device)
    return sht(field.detach().to(torch.float64), table, mmax).cpu()


# ---------------------------------------------------------------------------------------------
# The rules of the two grid domains


def _draw_sample(
    ir: Graph, rng: np.random.Generator, nodes: int, graphs: int, dtype: torch.dtype, trial: int
) -> Sample:
    return Sample(draw_field_inputs(ir, rng, dtype, graphs=graphs), {})


def _draw_element(
    ir: Graph, rng: np.random.Generator, sizes: Mapping[str, int], trial: int
) -> GroupElement:
    return draw_grid_element(ir, rng)


def _move_inputs(ir: Graph, sample: Sample, element: GroupElement) -> dict[str, Any]:
    # Imported here: the checker's actions read `is_field_type` from this module.
    from geoc.backends.torch_fx.domains.points import transform_inputs

    return transform_inputs(ir, sample, element)


def _approximate_rows(
    module: fx.GraphModule, ir: Graph, rng: np.random.Generator, trials: int, dtype: torch.dtype
) -> list[BandLimitedRow]:
    return band_limited_rows(module, ir, rng, trials, dtype) if has_band_limited_check(ir) else []


def torus_law(ir: Graph) -> str:
    """What the exact trials on a torus moved."""
    if not ir.group.factors:
        return ""
    if grid_law(ir):
        return grid_law(ir)
    grid = "x".join(map(str, ir.domain.grid))
    step = ir.group.geometric.step if ir.group.geometric else 1
    which = f"cyclic shifts by multiples of {step}" if step > 1 else "cyclic shifts"
    return f"{which} of the {grid} grid permute its points; checked to the tolerance above"


def sphere_law(ir: Graph) -> str:
    """What the exact trials on a sphere moved."""
    if not ir.group.factors:
        return ""
    if grid_law(ir):
        return grid_law(ir)
    return (
        f"rotations about the pole by multiples of 2π/{ir.domain.grid[1]} permute the grid "
        "points; checked to the tolerance above"
    )


def check_inputs(ctx: LowerCtx, like: fx.Node | None) -> None:
    """Fields ``[B, C, *grid]``, global values ``[B, C]`` or ``[C]``, one ``B`` and one grid
    for all. A torus runs at any size (its operators are pointwise or FFTs), square where the
    group rotates it; a sphere on any grid that holds its band limit (checked where its
    transform tables are looked up: GEO662, spectral/sphere_kernels.py)."""
    from geoc.backends.torch_fx.common import validate_kernels as rtv
    from geoc.backends.torch_fx.validate import check, described

    domain, names = ctx.ir.domain, list(ctx.ir.inputs)
    free = domain.kind in (DomainKind.TORUS, DomainKind.GRID)
    grid = tuple(f"n{i + 1}" for i in range(len(domain.grid))) if free else ("nlat", "nlon")
    fields = [name for name, port in ctx.ir.inputs.items() if is_field_type(port.type)]
    for name, port in ctx.ir.inputs.items():
        x, width, text = ctx.inputs[name], ctx.group.type_dim(port.type), described(ctx, port.type)
        if is_field_type(port.type):
            check(ctx, rtv.check_value, x, name, ("B", width, *grid), text, like)
            if free and _turns_by_90(ctx.ir):
                check(ctx, rtv.check_square, x, name, len(grid))
            if free and coarsest(ctx.ir) > 1:
                check(ctx, rtv.check_divisible, x, name, len(grid), coarsest(ctx.ir))
        elif not port.type.axes:
            check(ctx, rtv.check_batched_global, x, name, width, text, like)
    if len(names) > 1:
        check(ctx, rtv.check_agree, [ctx.inputs[n] for n in names], names, 0, "samples")
    for dim, what in enumerate(grid):  # every field on one grid
        if len(fields) > 1:
            values = [ctx.inputs[n] for n in fields]
            check(ctx, rtv.check_agree, values, fields, dim - len(grid), f"points along `{what}`")


def coarsest(ir: Graph) -> int:
    """The least common multiple of the factors by which the model restricts its grid (the
    denominators of its values' grid scales, `torus_over4`: 4): the input sizes it divides."""
    scales = (axis_scale(t.axes[0]) for n in ir.nodes for t in n.out_types if t.axes)
    return math.lcm(1, *(s.denominator for _, s in filter(None, scales)))


def _turns_by_90(ir: Graph) -> bool:
    """Whether the group rotates the grid by 90°: only a square grid is mapped onto itself
    (the torus's symmetry rule, GEO408, asks it of the declared grid too)."""
    return rotates_grid(ir.group) and ir.group.matrix.n == 4


def _rules(exact_law: Callable[[Graph], str]) -> DomainRules:
    return DomainRules(
        lower_inputs=lambda ctx: None,  # the batch is the fields' leading dimension
        draw_sample=_draw_sample,
        draw_element=_draw_element,
        move_inputs=_move_inputs,
        exact_law=exact_law,
        approximate_rows=_approximate_rows,
        leading_batch=True,
        check_inputs=check_inputs,
    )


def flat_grid_law(ir: Graph) -> str:
    """What a non-periodic grid's check verifies: no group moves it (its symmetry rule allows
    only `trivial`), so the trials say so and compare each output with a second run."""
    grid = "x".join(map(str, ir.domain.grid))
    return (
        f"the non-periodic {grid} grid ({ir.domain.boundary} boundary) has no translation "
        "group: no shift to check; the trials check only that the outputs are deterministic"
    )


RULES = {
    DomainKind.TORUS: _rules(torus_law),
    DomainKind.SPHERE: _rules(sphere_law),
    DomainKind.GRID: _rules(flat_grid_law),
}

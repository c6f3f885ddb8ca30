# ruff: noqa: E741 - `l` is the degree of a spherical harmonic, as in every text on the subject
"""Spectral operators on the torus and the sphere: torch-only runtime kernels.

Copied next to exported models, so it imports only torch, math, typing, the precision policy
(``precision_kernels``) and ``InputError`` (``validate_kernels``), both exported with it. The
graph calls these functions as leaves; every branch below is on static shapes and Python
ints, never on data, so they run under ``torch.compile(fullgraph=True)`` and ``torch.export``.
dtype and device follow the input (float32 or float64; the tables are cast to the input's dtype).

* FNO (Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
  ICLR 2021): :func:`fno_conv`, the kernel ``K`` of a Fourier layer.
* SFNO (Bonev et al., "Spherical Fourier Neural Operators", ICML 2023): :func:`sht`,
  :func:`isht` and :func:`sfno_conv`, equal to torch-harmonics' ``RealSHT`` /
  ``InverseRealSHT`` (``norm="ortho"``, Condon-Shortley phase) and ``SpectralConvS2``.

Complex weights are real parameters with a trailing ``(re, im)`` axis, viewed as complex here.
Weight layouts: channels first by default, as torch-harmonics and the FNO paper store them
(:func:`sfno_conv`: ``[out, in, lmax]`` real or ``[out, in, lmax, 2]``, per-(l, m)
``[out, in, lmax, mmax, 2]``; :func:`fno_conv`: ``[in, out, 2 m_1, ..., 2 m_{d-1}, m_d, 2]``,
along each non-last mode axis the frequencies ``0..m-1`` then ``-m..-1``, the paper code's
``weights1`` and ``weights2`` in 2-D). With ``mode_major=True`` the modes come first (mode axes
reversed for the sphere, ``[lmax, in, out]``, ``[mmax, lmax, in, out, 2]``; ``[2 m_1, ...,
m_d, in, out, 2]`` for the torus): the per-mode channel mixing is then one batched matmul on
the parameter as it is, with no transposed copy of the weight and of its gradient per call,
which dominates for wide layers.

Layouts (measured on CPU, forward + backward): the rfft output ``[rows, nlat, m]`` (``rows`` =
the flattened leading dims) is transposed once, as a plain 2-D transpose, to ``[nlat, m, rows
2]`` so that the Legendre contraction is one ``bmm`` batched over ``m`` with unit-stride
operands; coefficients come out as ``[mmax, lmax, rows 2]`` and go back the same way. The
``(re, im)`` pair sits inside ``rows`` (complex arithmetic) or outside it (real filters and
:func:`_complex_mix`: the parts become extra rows of a real matmul). Only block transposes and
2-D transposes are used: a general strided permute of 8-byte elements costs several times
more. The first and last FFTs (:func:`rfft_head`, :func:`irfft_tail`) have hand-written
backward passes of half the cost of torch's (which pads to the full length and runs a complex
FFT). The FNO's non-last axes use small DFT matrices restricted to the kept frequencies.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from geoc.backends.torch_fx.common.precision_kernels import full, transform
from geoc.backends.torch_fx.common.validate_kernels import InputError

# --- sphere ---------------------------------------------------------------------------------


def sht(x: Tensor, forward: Tensor, mmax: int) -> Tensor:
    """Real SHT: ``x`` real ``[..., nlat, nlon]`` -> complex ``[..., lmax, mmax]``.

    ``forward`` is ``plan.sht_tables(...)[0]``, ``[mmax, lmax, nlat]``, with the quadrature
    weights and ``2π / nlon`` folded in, so the longitude transform is an unscaled rfft. The
    result is a (non-contiguous) view of the transform's own layout.
    """
    lead = x.shape[:-2]
    if _prod(lead) == 0:  # MKL's FFT refuses an empty batch: no row, no coefficient
        zeros = torch.zeros(*lead, forward.shape[1], mmax, device=x.device)
        return zeros.to(_complex_dtype(full(x).dtype)) + 0 * x.sum()
    y = _legendre_forward(x, forward, mmax, parts_outer=False)  # [M, L, rows * 2]
    m, l = y.shape[:2]
    coeffs = torch.view_as_complex(y.view(m, l, *lead, 2))  # [M, L, *lead]
    return coeffs.permute(*range(2, 2 + len(lead)), 1, 0)


def isht(coeffs: Tensor, inverse: Tensor, nlon: int) -> Tensor:
    """Inverse real SHT: complex ``[..., lmax, mmax]`` -> real ``[..., nlat, nlon]``.

    ``inverse`` is ``plan.sht_tables(...)[1]``, ``[mmax, lmax, nlat]``. The imaginary parts
    of the orders ``m = 0`` (and ``m = nlon/2``) cannot be represented by a real field and are
    ignored, as in torch-harmonics.
    """
    lead = coeffs.shape[:-2]
    l, m = coeffs.shape[-2:]
    rows = _prod(lead)
    if rows == 0:  # MKL's FFT refuses an empty batch: no row, no field
        real = full(coeffs.real)
        return real.new_zeros(*lead, inverse.shape[-1], nlon) + 0 * real.sum()
    by_degree = coeffs.reshape(rows, l, m).permute(1, 2, 0).contiguous()  # [L, M, rows]
    z = torch.view_as_real(by_degree).view(l, m, rows * 2).transpose(0, 1)
    return _legendre_inverse(z, inverse, lead, nlon, parts_outer=False)


def sfno_conv(
    x: Tensor,
    forward: Tensor,
    inverse: Tensor,
    weight: Tensor,
    mmax: int,
    nlon: int,
    per_order: bool,
    mode_major: bool = False,
) -> Tensor:
    """Spectral convolution on the sphere: ``isht(w · sht(x))``, ``x`` ``[B, C_in, nlat, nlon]``.

    Degree filter (``per_order=False``): ``y_olm = Σ_i w_oil x_ilm``. A real ``w`` (weight
    ``[out, in, lmax]``) commutes with every Wigner-D block, so the layer is SO(3)-equivariant on
    band-limited fields; a complex ``w`` (``[out, in, lmax, 2]``, torch-harmonics'
    "driscoll-healy") acts as ``conj(w)`` on the implicit orders ``m < 0`` and drops ``Im w`` at
    ``m = 0``, which commutes with polar rotations only. Per-(l, m) filter (``per_order=True``,
    ``[out, in, lmax, mmax, 2]``, torch-harmonics' "diagonal"): ``y_olm = Σ_i w_oilm x_ilm``,
    polar rotations only. With ``mode_major`` the weight is stored modes first (``[lmax, in,
    out(, 2)]``, ``[mmax, lmax, in, out, 2]``) and used without a transposed copy.

    ``forward`` and ``inverse`` may come from different grids with the same ``lmax`` and
    ``mmax``: the output is on the ``inverse`` grid, ``nlon`` longitudes.
    """
    batch, channels = x.shape[:2]
    w = _mode_major(weight, 2 if per_order else 1, mode_major)
    if batch == 0:  # MKL's FFT refuses an empty batch; `0 * w` keeps the weight's gradient
        out_channels = w.shape[-2] if w.dim() in (4, 5) else w.shape[-1]
        empty = full(x).new_zeros(0, out_channels, inverse.shape[-1], nlon)
        return empty + 0 * w.sum() + 0 * x.sum()
    if per_order:  # one product per (m, l), straight from the transform's layout
        y = _legendre_forward(x, forward, mmax, parts_outer=True)  # [M, L, (re/im, B, C)]
        m, l = y.shape[:2]
        z = _complex_mix(y.view(m * l, 1, 2, batch, channels), w.view(m * l, channels, -1, 2))
        z = z.view(m, l, -1)  # [M, L, (B, O, re/im)]
        return _legendre_inverse(z, inverse, (batch, w.shape[-2]), nlon, False)
    # one product per degree: l becomes the batch axis (a block transpose), rows (m, b)
    real_filter = w.dim() == 3
    y = _legendre_forward(x, forward, mmax, parts_outer=real_filter)
    m, l = y.shape[:2]
    y = y.transpose(0, 1).contiguous()  # [L, M, B C 2]
    if real_filter:  # (re/im, B) rows: one real matmul, half the work of a complex one
        z = torch.bmm(y.view(l, m * 2 * batch, channels), w.to(y.dtype))
        out_channels = w.shape[-1]
    else:  # few large products: complex bmm is as fast as real arithmetic here
        z = torch.bmm(torch.view_as_complex(y.view(l, m * batch, channels, 2)), _as_complex(w, y))
        z = torch.view_as_real(z)
        out_channels = w.shape[-2]
    z = z.reshape(l, m, -1).transpose(0, 1)  # [M, L, B O 2]
    return _legendre_inverse(z, inverse, (batch, out_channels), nlon, real_filter)


def _as_complex(weight: Tensor, like: Tensor) -> Tensor:
    return torch.view_as_complex(weight.to(like.dtype))


def _complex_mix(y: Tensor, w: Tensor) -> Tensor:
    """Per batch entry ``p``, the complex product ``x_p @ w_p`` with real matmuls only.

    ``y`` ``[P, R, 2, S, C]`` holds ``x`` ``[P, R, S, C]`` with its real and imaginary parts as
    separate rows; ``w`` is ``[P, C, O, 2]``. Returns ``view_as_real(x @ w)`` ``[P, R, S, O,
    2]``. One real ``bmm`` against ``w``'s interleaved parts gives ``x_re w`` and ``x_im w`` as
    complex numbers; ``x w = x_re w + i x_im w``. Complex ``bmm`` would do the same work, but
    its backward runs matrix by matrix on CPU (conjugate views); this one is batched.
    """
    p, r, _, s, c = y.shape
    o = w.shape[-2]
    both = torch.bmm(y.view(p, r * 2 * s, c), w.reshape(p, c, o * 2).to(y.dtype))
    both = both.view(p, r, 2, s, o, 2)
    real_part = torch.view_as_complex(both[:, :, 0])
    imag_part = torch.view_as_complex(both[:, :, 1])
    return torch.view_as_real(torch.add(real_part, imag_part, alpha=1j))


def _mode_major(weight: Tensor, n_modes: int, already: bool) -> Tensor:
    """``[out, in, *modes(, 2)]`` -> ``[*reversed(modes), in, out(, 2)]`` (contiguous)."""
    if already:
        return weight
    complex_axis = (weight.dim() - 1,) if weight.dim() == n_modes + 3 else ()
    modes = tuple(range(n_modes + 1, 1, -1))
    return weight.permute(*modes, 1, 0, *complex_axis).contiguous()


def _legendre_forward(x: Tensor, forward: Tensor, mmax: int, parts_outer: bool) -> Tensor:
    """``x`` real ``[..., K, N]`` -> ``[M, L, rows * 2]``, rows = the leading dims; the last
    axis is ``(rows, re/im)``, or ``(re/im, rows)`` with ``parts_outer``."""
    k, n = x.shape[-2:]
    rows = _prod(x.shape[:-2])
    spectrum = rfft_head(x.reshape(rows, k, n), mmax)  # [rows, K, M], contiguous
    if parts_outer:  # one 2-D transpose of the float parts: [K M 2, rows]
        by_order = torch.view_as_real(spectrum).view(rows, k * mmax * 2).T.contiguous()
    else:  # one 2-D transpose of complex numbers: [K M, rows]
        by_order = torch.view_as_real(spectrum.view(rows, k * mmax).T.contiguous())
    by_order = by_order.view(k, mmax, rows * 2).transpose(0, 1)  # [M, K, rows * 2]
    with transform(x.device):  # spherical transforms stay in float32 (precision_kernels)
        return torch.bmm(forward.to(by_order.dtype), by_order)


def _legendre_inverse(
    z: Tensor, inverse: Tensor, lead: tuple[int, ...], nlon: int, parts_outer: bool
) -> Tensor:
    """``z`` ``[M, L, rows * 2]`` (unit inner stride, layout as in ``_legendre_forward``) ->
    real ``[*lead, K, nlon]``."""
    m, _, k = inverse.shape
    rows = _prod(lead)
    z = full(z)  # spherical transforms stay in float32 (precision_kernels)
    with transform(z.device):
        grid = torch.bmm(inverse.to(z.dtype).transpose(1, 2), z)  # [M, K, rows * 2]
    grid = grid.transpose(0, 1).contiguous()  # [K, M, rows * 2]: block transpose
    if parts_outer:
        parts = grid.view(k * m * 2, rows).T.contiguous().view(*lead, k, m, 2)
    else:
        parts = torch.view_as_real(torch.view_as_complex(grid.view(k * m, rows, 2)).T.contiguous())
        parts = parts.view(*lead, k, m, 2)
    return irfft_tail(torch.view_as_complex(parts), nlon, "forward")


# --- torus ----------------------------------------------------------------------------------


def fno_conv(
    x: Tensor,
    weight: Tensor,
    modes: tuple[int, ...],
    mode_major: bool = False,
    source: str = "x",
) -> Tensor:
    """The Fourier layer's kernel ``K``: ``x`` real ``[B, C_in, n_1, ..., n_d]`` -> ``[B, C_out,
    n_1, ..., n_d]``, ``d = len(modes)``.

    ``(K x)(t) = IDFT(R · DFT(x)|_kept)(t)`` (Li et al. 2021, eq. 5): rfft over the grid, keep
    the frequencies ``-m_j..m_j-1`` of each non-last axis and ``0..m_d-1`` of the last, multiply
    each kept frequency by its ``C_in x C_out`` complex matrix, zero the rest, inverse rfft on
    the input's own grid with the default ("backward") normalisation. Any grid with
    ``n_j ≥ 2 m_j`` (``n_d ≥ 2 m_d - 2``) works with the same weights: the layer is
    discretisation invariant. Exactly equivariant to cyclic shifts of the grid.

    The non-last axes are transformed by small dense DFT matrices restricted to the kept
    frequencies (one batched matmul per axis), which also leaves the data mode-major for the
    mixing: no scatter into a zero spectrum, no full-size FFT along those axes.
    """
    batch, channels = x.shape[:2]
    grid = tuple(x.shape[2:])
    _check_modes(grid, modes, source)  # a coarser grid is GEO622, naming the input `source`
    d = len(modes)
    w = _fno_mode_major(weight, d, mode_major)
    out_channels = w.shape[-2]
    if batch == 0:  # MKL's FFT refuses an empty batch; `0 * w` keeps the weight's gradient
        return x.new_zeros(0, out_channels, *grid) + 0 * w.sum()
    complex_dtype = _complex_dtype(x.dtype)
    rows = batch * channels
    spectrum = rfft_head(x.reshape(rows, *grid), modes[-1])
    # forward partial DFTs, last non-rfft axis first: every step shrinks the tensor
    for j in reversed(range(d - 1)):
        pre = rows * _prod(grid[:j])
        matrix = _partial_dft(grid[j], modes[j], complex_dtype, x.device, inverse=False)
        spectrum = torch.bmm(matrix.expand(pre, *matrix.shape), spectrum.reshape(pre, grid[j], -1))
    kept = _prod([2 * m for m in modes[:-1]]) * modes[-1]
    # mode-major with the parts as rows: [P, (re/im, B, C)], one 2-D transpose of floats
    parts = torch.view_as_real(spectrum).reshape(rows, kept * 2).T.contiguous()
    mixed = _complex_mix(parts.view(kept, 1, 2, batch, channels), w.view(kept, channels, -1, 2))
    spectrum = torch.view_as_complex(mixed).view(kept, batch * out_channels).T.contiguous()
    out_rows = batch * out_channels
    for j in range(d - 1):
        pre = out_rows * _prod(grid[:j])
        matrix = _partial_dft(grid[j], modes[j], complex_dtype, x.device, inverse=True)
        spectrum = torch.bmm(
            matrix.expand(pre, *matrix.shape), spectrum.view(pre, 2 * modes[j], -1)
        )
    out = irfft_tail(spectrum.view(out_rows, *grid[:-1], modes[-1]), grid[-1], "backward")
    return out.view(batch, out_channels, *grid)


def fno_conv_tied(x: Tensor, weight: Tensor, gather: Tensor, m: int, source: str = "x") -> Tensor:
    """The Fourier layer under rotations and reflections of a 2-D grid: ``weight`` real
    ``[C_in, C_out, (2m-1)²]`` over the square band ``|k_1|, |k_2| < m`` (centred), averaged
    over the group (``gather`` ``[|G|, (2m-1)²]``: where ``g·W`` reads ``W``) and over
    ``k -> -k``, so that ``W(g k) = W(k) = W(-k)``: real and even, it is the spectrum of a real
    kernel that the group leaves invariant, so the layer commutes with the group. Laid out as
    :func:`fno_conv`'s complex weights (``k_1 = 0..m-1, -m..-1``; ``k_1 = -m`` is outside the
    band: zero) and applied by it."""
    size, c = 2 * m - 1, m - 1
    tied = weight[..., gather].mean(dim=-2)
    # The rfft stores k_2 >= 0 and implies W(-k) = W(k) for the rest (a real kernel with real
    # weights), so W must be even too: averaged with k -> -k (a no-op when -1 is in the group).
    tied = ((tied + tied.flip(-1)) / 2).unflatten(-1, (size, size))
    edge = torch.zeros_like(tied[..., :1, c:])  # k_1 = -m
    real = torch.cat([tied[..., c:, c:], edge, tied[..., :c, c:]], dim=-2)  # [in, out, 2m, m]
    return fno_conv(x, torch.stack([real, torch.zeros_like(real)], dim=-1), (m, m), False, source)


def _fno_mode_major(weight: Tensor, d: int, already: bool) -> Tensor:
    """``[in, out, *kept, 2]`` -> ``[*kept, in, out, 2]`` (contiguous)."""
    if already:
        return weight
    return weight.permute(*range(2, d + 2), 0, 1, d + 2).contiguous()


def _partial_dft(n: int, m: int, dtype: torch.dtype, device: torch.device, inverse: bool) -> Tensor:
    """DFT along one axis restricted to frequencies ``k = 0..m-1, -m..-1``: ``[2m, n]`` with
    ``e^{-2πi k t / n}`` (forward), or ``[n, 2m]`` with ``e^{+2πi k t / n} / n`` (inverse)."""
    k = torch.cat([torch.arange(m, device=device), torch.arange(n - m, n, device=device)])
    t = torch.arange(n, device=device)
    phase = torch.outer(k, t).remainder(n).to(torch.float64) * (2.0 * math.pi / n)
    if inverse:
        matrix = torch.polar(torch.full_like(phase, 1.0 / n), phase).T
    else:
        matrix = torch.polar(torch.ones_like(phase), -phase)
    return matrix.to(dtype).contiguous()


def _check_modes(grid: tuple[int, ...], modes: tuple[int, ...], source: str) -> None:
    """The grid of the field a Fourier layer reads holds its kept modes (GEO622): ``2 m_j``
    points along each non-last axis (frequencies ``-m_j..m_j-1``), ``2 m_d - 2`` along the
    last (the rfft's ``0..m_d-1``). ``source``: the model input the field comes from."""
    need = (*(2 * m for m in modes[:-1]), max(1, 2 * modes[-1] - 2))
    fits = len(grid) == len(modes) and all(n >= k for n, k in zip(grid, need, strict=True))
    if fits:
        return
    shown, wanted = "x".join(map(str, grid)), "x".join(map(str, need))
    raise InputError(
        "GEO622",
        source,
        f"a Fourier layer keeps {modes} modes, which need a grid of at least {wanted} points; "
        f"the field it transforms is on a {shown} grid: give the input a finer grid (at least "
        f"{wanted} where the layer reads it) or compile with fewer `modes`",
    )


# --- shared ---------------------------------------------------------------------------------


class _RfftHead(torch.autograd.Function):
    """``rfft(x)[..., :m]`` (unscaled), contiguous, with a half-size backward.

    torch's own rfft backward zero-pads the gradient to the full length and runs a complex FFT
    of it; the adjoint is an inverse real FFT: ``∂L/∂x_t = Re Σ_{f<m} G_f e^{2πi f t/n}`` =
    ``irfft(H, n, norm="forward")`` with ``H_f = G_f`` at ``f = 0, n/2`` and ``G_f / 2``
    between (irfft counts those twice), padded by irfft itself.
    """

    @staticmethod
    def forward(x: Tensor, m: int) -> Tensor:
        return torch.fft.rfft(x, dim=-1)[..., :m].contiguous()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.n = inputs[0].shape[-1]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        n = ctx.n
        f = torch.arange(grad.shape[-1], device=grad.device)
        weight = torch.where((f == 0) | (2 * f == n), 1.0, 0.5).to(grad.real.dtype)
        return torch.fft.irfft(grad * weight, n=n, dim=-1, norm="forward"), None


def rfft_head(x: Tensor, m: int) -> Tensor:
    """The first ``m`` frequencies of the unscaled rfft of ``x`` along its last axis."""
    return _RfftHead.apply(full(x), m)  # torch has no half-precision FFT on the CPU


class _IrfftTail(torch.autograd.Function):
    """``irfft(h, n, norm)`` of a one-sided spectrum ``h`` ``[..., m]``, ``m ≤ n//2 + 1``,
    padded with zeros, with a half-size backward.

    The imaginary parts of the frequencies ``0`` and ``n/2`` cannot be carried by a real signal
    and are ignored: CPU irfft does so itself (as torch documents), cuFFT not always
    (pytorch/pytorch#154496), so elsewhere they are zeroed first. The adjoint, with ``s`` the
    normalisation (1 or ``1/n``): ``∂L/∂h_f = s c_f rfft(g)_f``, ``c_f = 1`` at ``0, n/2`` and
    2 between (irfft counts those twice); its imaginary part vanishes at ``0, n/2`` as it
    should. torch's own backward pads, runs an rfft and doubles in place.
    """

    @staticmethod
    def forward(spectrum: Tensor, n: int, norm: str) -> Tensor:
        if spectrum.device.type != "cpu":
            mask = _real_parts_mask(spectrum.shape[-1], n, spectrum.real.dtype, spectrum.device)
            spectrum = torch.view_as_complex(torch.view_as_real(spectrum) * mask)
        return torch.fft.irfft(spectrum, n=n, dim=-1, norm=norm)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.m = inputs[0].shape[-1]
        ctx.n, ctx.norm = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        n, m = ctx.n, ctx.m
        f = torch.arange(m, device=grad.device)
        scale = 1.0 if ctx.norm == "forward" else 1.0 / n
        weight = torch.where((f == 0) | (2 * f == n), 1.0, 2.0).to(grad.dtype) * scale
        return torch.fft.rfft(grad, dim=-1)[..., :m] * weight, None, None


def irfft_tail(spectrum: Tensor, n: int, norm: str) -> Tensor:
    """Real signal of length ``n`` from the first ``spectrum.shape[-1]`` frequencies."""
    return _IrfftTail.apply(spectrum, n, norm)  # complex: never autocast to half


def _real_parts_mask(m: int, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``[m, 2]``: 1, except 0 on the imaginary parts of the frequencies 0 and n/2."""
    f = torch.arange(m, device=device)
    keep_imag = ((f != 0) & (2 * f != n)).to(dtype)
    return torch.stack([torch.ones_like(keep_imag), keep_imag], -1)


def _prod(sizes: tuple[int, ...] | list[int]) -> int:
    """Product of sizes, in a form torch.compile traces (it rejects generator arguments)."""
    out = 1
    for size in sizes:
        out = out * size
    return out


def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def grid_coords(like: torch.Tensor) -> torch.Tensor:
    """``[batch, d, n_1, ..., n_d]``: the coordinates ``i_j / n_j`` of every point of the grid
    of ``like`` (``[batch, channels, n_1, ..., n_d]``), neuraloperator 2.0.0's
    ``regular_grid_nd`` with boundaries ``[0, 1]``: ``linspace(0, 1, n + 1)[:-1]`` in float32,
    then cast to ``like``'s dtype, so both give the same numbers bit for bit."""
    axes = [
        torch.linspace(0.0, 1.0, n + 1, dtype=torch.float32, device=like.device)[:-1]
        for n in like.shape[2:]
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij")).to(like.dtype)
    return grid.unsqueeze(0).expand(like.shape[0], *grid.shape)


def grid_latitude(like: torch.Tensor, latitudes: torch.Tensor) -> torch.Tensor:
    """``[batch, 1, nlat, nlon]``: the latitude of each row of the grid of ``like``
    (``[batch, channels, nlat, nlon]``), from the table ``latitudes`` (``[nlat]``)."""
    rows = latitudes.to(like.dtype).view(1, 1, -1, 1)
    return rows.expand(like.shape[0], 1, like.shape[2], like.shape[3])

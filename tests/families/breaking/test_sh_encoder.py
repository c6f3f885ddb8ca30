"""The built-in `sh_encoder` against a plain-PyTorch reference written from the paper's equations
(Rußwurm et al. 2024, arXiv:2310.06743): real spherical harmonics of longitude and latitude from
associated Legendre functions, then SIREN layers `sin(w0 (W h + b))` (Sitzmann et al. 2020) with
the same weights. geoc's harmonics (e3nn's basis, component norm) span the same space degree by
degree: a per-degree change of basis, sqrt(4π) times an orthogonal matrix, fitted here and folded
into the reference's first layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import geoc

special = pytest.importorskip("scipy.special")

PARAMS = {"lmax": 4, "hidden": 16, "depth": 3, "out": 5}
W0_FIRST, W0 = 30.0, 1.0


def paper_harmonics(lon: np.ndarray, lat: np.ndarray, lmax: int) -> list[np.ndarray]:
    """Per degree l, ``[n, 2l + 1]``: the orthonormal real harmonics Y_l^m(λ, φ), m = -l..l,
    ``N_l^|m| P_l^|m|(sin φ)`` times ``sqrt(2) cos(m λ)`` (m > 0), ``sqrt(2) sin(|m| λ)``
    (m < 0) or 1 (m = 0)."""
    out = []
    for l in range(lmax + 1):  # noqa: E741 - the degree
        cols = []
        for m in range(-l, l + 1):
            k = abs(m)
            norm = math.sqrt(
                (2 * l + 1) / (4 * math.pi) * math.factorial(l - k) / math.factorial(l + k)
            )
            legendre = special.lpmv(k, l, np.sin(lat))
            azimuth = (
                np.ones_like(lon)
                if m == 0
                else math.sqrt(2) * (np.cos(m * lon) if m > 0 else np.sin(k * lon))
            )
            cols.append(norm * legendre * azimuth)
        out.append(np.stack(cols, axis=1))
    return out


def siren_reference(features: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]):
    """SirenNet: sin(w0_initial (W h + b)), then sin(w0 (W h + b)), then a linear last layer."""
    h = features
    for i, (weight, bias) in enumerate(layers[:-1]):
        h = torch.sin((W0_FIRST if i == 0 else W0) * (h @ weight.T + bias))
    weight, bias = layers[-1]
    return h @ weight.T + bias


def test_sh_encoder_equals_the_paper_equations_with_the_same_weights():
    torch.manual_seed(0)
    module = geoc.compile("sh_encoder", params=PARAMS, dtype=torch.float64, optimize="ir")
    harmonics = geoc.compile(
        "model H() {\n    symmetry O(3) x S(points)\n    domain set(points)\n"
        "    input u: vector over points\n"
        f"    sh = spherical_harmonics(u, lmax={PARAMS['lmax']})\n"
        "    output s: 1x0e + 1x1o + 1x2e + 1x3o + 1x4e over points = sh\n}",
        dtype=torch.float64,
    )
    u = torch.randn(400, 3, dtype=torch.float64)
    lon = torch.atan2(u[:, 1], u[:, 0]).numpy()
    lat = torch.asin(u[:, 2] / u.norm(dim=1)).numpy()
    paper = paper_harmonics(lon, lat, PARAMS["lmax"])
    ours = harmonics(u=u)["s"].detach().numpy()
    change = []  # ours_l = paper_l @ A_l.T, per degree
    start = 0
    for block in paper:
        width = block.shape[1]
        fit, *_ = np.linalg.lstsq(block, ours[:, start : start + width], rcond=None)
        assert np.abs(block @ fit - ours[:, start : start + width]).max() < 1e-10
        a = fit.T / math.sqrt(4 * math.pi)  # component norm: sqrt(4π) times an orthogonal map
        assert np.abs(a @ a.T - np.eye(width)).max() < 1e-10
        change.append(fit.T)
        start += width
    params = dict(module.named_parameters())
    first_w = params["first.weight"].detach()
    folded = torch.cat(
        [
            first_w[:, s : s + a.shape[0]] @ torch.as_tensor(a)
            for s, a in zip(_starts(change), change, strict=True)
        ],
        dim=1,
    )
    layers = [(folded, params["first.bias"].detach())]
    for i in range(PARAMS["depth"] - 1):
        name = f"layers.{i}.h.linear"
        layers.append((params[f"{name}.weight"].detach(), params[f"{name}.bias"].detach()))
    layers.append((params["y.weight"].detach(), params["y.bias"].detach()))
    want = siren_reference(torch.as_tensor(np.concatenate(paper, axis=1)), layers)
    got = module(u=u)["y"].detach()
    assert (got - want).abs().max().item() < 1e-9


def _starts(blocks: list[np.ndarray]) -> list[int]:
    starts, at = [], 0
    for block in blocks:
        starts.append(at)
        at += block.shape[0]
    return starts


def test_siren_initialisers_draw_the_papers_bounds():
    module = geoc.compile("sh_encoder", params=PARAMS)
    params = dict(module.named_parameters())
    fan_first = (PARAMS["lmax"] + 1) ** 2
    for name in ("first.weight", "first.bias"):
        assert params[name].abs().max().item() <= 1 / fan_first
    bound = math.sqrt(6 / PARAMS["hidden"]) / W0
    for name in ("layers.0.h.linear.weight", "layers.0.h.linear.bias", "y.weight"):
        values = params[name].abs()
        assert values.max().item() <= bound and values.max().item() > bound / 2

"""SFNO on other grids than its spec's: the band-limited interpolation error (docs/spectral.md,
"Other grids on the sphere").

    python bench/sfno_grids.py                  # the figures of docs/spectral.md
    python bench/sfno_grids.py --depth 2 --seeds 3

``sfno.geo`` (32x64 equiangular, band l < 16) is compiled once; its weights run on each grid
below (``sphere_grid=`` for Gauss-Legendre) on the same band-limited input (random unit-variance
coefficients up to the band, synthesised on each grid), float64. A row gives the relative L2
difference of the outputs' band-limited parts (coefficients l < 16) against the native grid's
and against a 256x512 equiangular reference, worst over the seeds.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import geoc
from geoc.backends.torch_fx.spectral import kernels as rt
from geoc.backends.torch_fx.spectral import plan

BAND = 16
GRIDS = [
    ("equiangular", 32, 64),
    ("equiangular", 64, 128),
    ("legendre_gauss", 32, 64),
    ("legendre_gauss", 64, 128),
    ("equiangular", 31, 31),
    ("legendre_gauss", 16, 31),
]
REFERENCE = ("equiangular", 256, 512)


def band_limited(seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    shape = (2, 3, BAND, BAND)
    a = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    m = np.arange(BAND)
    a.imag[..., m == 0] = 0.0
    return torch.as_tensor(a * (np.arange(BAND)[:, None] >= m[None, :]))


@torch.no_grad()
def band_of_output(native, params, coeffs, grid: str, nlat: int, nlon: int) -> torch.Tensor:
    forward, inverse = plan.sht_tables(nlat, nlon, BAND, BAND, grid)
    model = geoc.compile("sfno", params=params, dtype=torch.float64, sphere_grid=grid)
    model.load_state_dict(native.state_dict())
    out = model(u=rt.isht(coeffs, torch.as_tensor(inverse), nlon))["v"]
    return rt.sht(out, torch.as_tensor(forward), BAND)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    params = {"depth": args.depth, "width": args.width}
    native = geoc.compile("sfno", params=params, dtype=torch.float64)
    worst = {g: [0.0, 0.0] for g in GRIDS}
    for seed in range(args.seeds):
        coeffs = band_limited(seed)
        bands = {g: band_of_output(native, params, coeffs, *g) for g in [*GRIDS, REFERENCE]}
        own, ref = bands[GRIDS[0]], bands[REFERENCE]
        for g in GRIDS:
            errors = [float((bands[g] - x).norm() / x.norm()) for x in (own, ref)]
            worst[g] = [max(w, e) for w, e in zip(worst[g], errors, strict=True)]
    print(f"{'grid':<26} {'vs native 32x64':>16} {'vs 256x512':>12}")
    for (grid, nlat, nlon), (to_native, to_ref) in worst.items():
        print(f"{grid + f' {nlat}x{nlon}':<26} {to_native:>16.1e} {to_ref:>12.1e}")


if __name__ == "__main__":
    main()

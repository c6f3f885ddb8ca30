"""specs/fno_stable.geo (McCabe et al. 2023, arXiv:2306.10619) against a plain-PyTorch model
written from the equations, and its symmetry check."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fno_variants_reference import bounded_reference, disc_reference, reference

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.verify import check

SMALL = {"width": 4, "modes": 3, "depth": 2, "bound": 0.8}


def pointwise(x: torch.Tensor, params: dict, name: str) -> torch.Tensor:
    w, b = params[f"{name}.weight"], params[f"{name}.bias"]
    return torch.einsum("oi,bi...->bo...", w, x) + b.view(1, -1, *([1] * (x.dim() - 2)))


def spectral(z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Depthwise, bounded by 0.8, modes |k| < 3: R(k) = 0.8 tanh(|w|) w / |w| on the disc."""
    w = torch.view_as_complex(weight).flatten(-2)
    return reference(z, bounded_reference(w, 0.8, True) * disc_reference((3, 3)), (3, 3), True)


def test_fno_stable_equals_the_equations():
    module = geoc_compile("fno_stable", SMALL, seed=4, dtype=torch.float64)
    p = {name: value.detach() for name, value in module.named_parameters()}
    a = torch.randn(2, 1, 64, 64, dtype=torch.float64)
    z = pointwise(a, p, "z")
    z = F.gelu(spectral(z, p["layers.0.k.weight"]) + pointwise(z, p, "layers.0.z.add.linear"))
    z = spectral(z, p["k.weight"]) + pointwise(z, p, "z_1.linear")
    want = pointwise(F.gelu(pointwise(z, p, "u.act.linear")), p, "u")
    got = module(a=a)["u"]
    assert torch.allclose(got, want, rtol=0, atol=1e-12), (got - want).abs().max()


def test_fno_stable_is_exactly_shift_equivariant():
    report = check("fno_stable", params=SMALL, trials=3)
    assert report.passed, report.render()
    assert report.max_error < 1e-10


def test_exported_fno_stable_equals_the_module(tmp_path):
    """The exported folder carries the filter kernels (torch only) and runs without geoc."""
    from helpers import run_exported

    from geoc.backends.torch_fx.export import write_folder

    module = geoc_compile("fno_stable", SMALL, seed=4, dtype=torch.float64)
    inputs = {"a": torch.randn(2, 1, 64, 64, dtype=torch.float64)}
    folder = write_folder(module, tmp_path / "fs", "fs")
    got = run_exported(folder, inputs, tmp_path)
    torch.testing.assert_close(got["u"], module(**inputs)["u"], rtol=1e-12, atol=0)

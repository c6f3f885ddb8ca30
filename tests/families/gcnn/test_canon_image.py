"""``specs/canon_image.geo`` (a C(4) canonicaliser + a plain CNN, Kaba et al. 2023) against the
same network written in plain PyTorch (``torch.rot90`` for the turned images and filters,
``conv2d`` with circular padding, weights copied), exact invariance under all four 90°
rotations in float64, the typing rules of ``canonicalise`` and of ``conv`` on the canonical
grid (codes and spans), and one full-graph ``torch.compile`` trace."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails_at

from geoc import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.pipeline import frontend

pytestmark = pytest.mark.usefixtures("one_thread")

PARAMS = {"channels": 2, "score": 2, "width": 4, "depth": 1, "hidden": 8, "classes": 3}
F64 = torch.float64


def turn(f: torch.Tensor, k: int) -> torch.Tensor:
    """``g·f`` for ``g`` the k-th power of the quarter turn [[0, -1], [1, 0]] about the index
    origin: ``torch.rot90`` about the centre, then one row roll."""
    for _ in range(k % 4):
        f = torch.roll(torch.rot90(f, 1, dims=(-2, -1)), 1, dims=-2)
    return f


def circular(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w, b)


def reference(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Scores: the lifting convolution with the filter turned by ``torch.rot90`` per element
    (channel (c, k) correlates with g_k·ψ_c), mean over the grid, the circulant regular linear
    map; the argmax element's inverse turns the image (ties: lexicographically largest); then
    the plain CNN and its mean."""
    psi = p["h.lift_conv.weight"].unflatten(-1, (3, 3))  # [O, I, 3, 3]
    bank = torch.stack([torch.rot90(psi, k, dims=(-2, -1)) for k in range(4)], 1).flatten(0, 1)
    h = F.relu(circular(x, bank, p["h.lift_conv.bias"].repeat_interleave(4)))
    basis, invariant = (
        p["solver_basis.C4_regular_to_regular"],
        p["solver_invariants.C4_scalar_to_regular"],
    )
    weight = torch.einsum("pqc,cab->paqb", p["s.coeff_0_0"], basis).reshape(4, -1)
    scores = h.mean((2, 3)) @ weight.T + (p["s.bias_0"] @ invariant).reshape(-1)
    turned = []
    for image, s in zip(x, scores, strict=True):
        band = torch.finfo(s.dtype).eps ** 0.5 * s.abs().max()  # the documented tie band
        tied = [k for k in range(4) if s[k] >= s.max() - band]
        candidates = [turn(image, -k) for k in tied]
        turned.append(max(candidates, key=lambda c: tuple(c.flatten().tolist())))
    z = F.relu(circular(torch.stack(turned), p["z.conv.weight"], p["z.conv.bias"]))
    z = F.relu(circular(z, p["layers.0.z.conv.weight"], p["layers.0.z.conv.bias"]))
    hidden = F.relu(F.linear(z.mean((2, 3)), p["logits.0.weight"], p["logits.0.bias"]))
    return F.linear(hidden, p["logits.1.weight"], p["logits.1.bias"])


def test_canon_image_equals_its_equations() -> None:
    module = geoc_compile("canon_image", PARAMS, dtype=F64)
    p = dict(module.named_parameters()) | dict(module.named_buffers())
    x = torch.randn(3, 2, 28, 28, dtype=F64)
    assert (module(x=x)["logits"] - reference(p, x)).abs().max() < 1e-12
    x = torch.randn(2, 2, 12, 12, dtype=F64)  # another square resolution, same weights
    assert (module(x=x)["logits"] - reference(p, x)).abs().max() < 1e-12


def test_canon_image_is_invariant_under_every_quarter_turn() -> None:
    module = geoc_compile("canon_image", PARAMS, dtype=F64)
    x = torch.randn(4, 2, 28, 28, dtype=F64)
    out = module(x=x)["logits"]
    for k in (1, 2, 3):
        assert (module(x=turn(x, k))["logits"] - out).abs().max() < 1e-10
        assert (module(x=torch.rot90(x, k, dims=(2, 3)))["logits"] - out).abs().max() < 1e-10
    report = check("canon_image", PARAMS, trials=3)
    assert report.passed and "rotations by 90°" in report.render()
    assert str(frontend("canon_image", PARAMS).group) == "C(4)"


def test_traces_as_one_graph() -> None:
    module = geoc_compile("canon_image", PARAMS, dtype=F64)
    x = torch.randn(2, 2, 28, 28, dtype=F64)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    assert (compiled(x=x)["logits"] - module(x=x)["logits"]).abs().max() < 1e-12


def image(
    body: str,
    symmetry: str = "C(4)",
    domain: str = "torus(8, 8)",
    lift: str = "act(lift_conv(x, 2 x regular), relu)",
) -> str:
    return (
        f"model M() {{\n    symmetry {symmetry}\n    domain {domain}\n"
        "    input x: 2 x scalar over torus\n"
        f"    s = linear(mean({lift}, over=torus), regular)\n"
        f"{body}\n}}\n"
    )


def test_canonicalise_types_onto_the_canonical_grid() -> None:
    body = (
        "    c = canonicalise(x, s)\n"
        "    output y: 3 x scalar = mean(conv(c, 3 x scalar), over=torus_canon)"
    )
    graph = frontend(image(body))
    assert str(graph.outputs["y"].type) == "3 x scalar"


def test_canonicalise_under_d4_is_exact() -> None:
    """Eight scores, eight turned images: reflections included, the check passes exactly."""
    body = (
        "    c = canonicalise(x, s)\n"
        "    output y: 3 x scalar = mean(act(conv(c, 3 x scalar), relu), over=torus_canon)"
    )
    report = check(image(body, "D(4)"), trials=4)
    assert report.passed and "reflections" in report.render()
    # without the relu the pooled scores are all sum(ψ)·mean(x) in exact arithmetic, equal only
    # up to rounding: the tie band makes them tie, and the lexicographic order decides
    report = check(image(body, "D(4)", lift="lift_conv(x, 2 x regular)"), trials=4)
    assert report.passed


def test_canonicalise_errors() -> None:
    out = "\n    output y: 2 x scalar over torus_canon = c"
    assert_fails_at(image("    c = @canonicalise(x, s)" + out, "T(2) x C(4)"), "GEO529")
    assert_fails_at(image("    c = canonicalise(x, @x)" + out), "GEO419")
    assert_fails_at(image("    c = canonicalise(@lift_conv(x, regular), s)" + out), "GEO419")
    assert_fails_at(image("    c = canonicalise(x, s)\n    y = canonicalise(@c, s)"), "GEO419")
    twice = "    c = canonicalise(x, @concat(s, s))" + out
    assert_fails_at(image(twice), "GEO419")


def test_conv_on_the_canonical_grid_keeps_to_scalars() -> None:
    """A free kernel into `regular` channels (which the group permutes) is still GEO414, and a
    conv of the raw image under C(4) too: only the canonical grid is not moved."""
    regular = (
        "    c = canonicalise(x, s)\n    output y: regular over torus_canon = @conv(c, regular)"
    )
    assert_fails_at(image(regular), "GEO414")
    raw = "    output y: 2 x scalar over torus = @conv(x, 2 x scalar)"
    assert_fails_at(image(raw), "GEO414")


def test_the_turned_image_itself_is_invariant() -> None:
    """The canonical image (and a `regular` map of it, whose channels the group permutes while
    leaving its points) passes the check as typed over `torus_canon`, with error exactly 0."""
    body = (
        "    output c: 2 x scalar over torus_canon = canonicalise(x, s)\n"
        "    output r: regular over torus_canon = linear(canonicalise(x, s), regular)"
    )
    report = check(image(body), trials=3)
    assert report.passed
    assert all(row.max_error == 0.0 for row in report.outputs)

"""MACE's symmetric contraction at run time (issue 16): float64 equivariance under O(3) with
reflections and node permutations (geoc's checker, and e3nn's Wigner matrices applied here),
batches, ties, empty sets; exact first and second derivatives; tracing under
``torch.compile(fullgraph=True)`` and ``torch.export``. Typing and the reference:
``test_symmetric_contraction.py``."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from helpers import assert_captures, randomised
from torch_env import float64_default

from geoc.backends.torch_fx.verify import check_module

A = "3x0e + 3x1o + 3x2e"
OUT = "3x0e + 3x1o + 3x1e + 3x2e + 3x3o"
SPECIES = 4


def spec(
    species: str = f"index({SPECIES})",
    correlation: int = 3,
    group: str = "O(3) x S(nodes)",
    a: str = A,
    out: str = OUT,
) -> str:
    return f"""model M() {{
    symmetry {group}
    domain set(nodes)
    input a: {a} over nodes
    input z: {species} over nodes
    output y: {out} over nodes = symmetric_contraction(a, z, out={out}, correlation={correlation})
}}
"""


def species_values(kind: str, n: int, gen: torch.Generator) -> torch.Tensor:
    labels = torch.randint(0, SPECIES, (n,), generator=gen)
    if kind == "labels":
        return labels
    return torch.nn.functional.one_hot(labels, SPECIES).to(torch.float64)


SPECIES_TYPES = {"labels": f"index({SPECIES})", "one-hot": f"{SPECIES} x scalar"}

# ---------------------------------------------------------------------------------------------
# Equivariance


@pytest.mark.parametrize("kind", list(SPECIES_TYPES))
@pytest.mark.parametrize("graphs", [1, 3])
def test_the_checker_finds_it_equivariant(kind: str, graphs: int) -> None:
    module = randomised(spec(SPECIES_TYPES[kind]))
    report = check_module(module, trials=4, graphs=graphs, atol=1e-10, every_value=True)
    assert report.passed, report.render()
    assert "rotation+reflection" in report.render() and "permutation" in report.render()


@pytest.mark.parametrize("group", ["SO(3) x S(nodes)", "SE(3) x S(nodes)"])
def test_equivariant_without_reflections(group: str) -> None:
    """Parity is no rule: 1o x 1o -> 1o-like paths (here 2o from Sym²) are used and rotate."""
    module = randomised(spec(group=group, out="3x0e + 3x1e + 3x2o + 3x3e"))
    report = check_module(module, trials=3, atol=1e-10, every_value=True)
    assert report.passed, report.render()


EDGE_CASES = {
    "global values, scalar species": """model M() {
    symmetry O(3)
    input a: 3x0e + 3x1o + 3x2e
    input s: 4 x scalar
    output y: 3x0e + 3x1o = symmetric_contraction(a, s, out=3x0e + 3x1o)
}
""",
    # Sym²(1o) = 0e + 2e: no path of order 2 reaches 1o, so the kernel has no coupling stage
    "no coupling stage": spec(a="3x1o", out="3x1o", correlation=2),
    "the largest correlation": spec(a="2x0e + 2x1o", out="2x0e + 2x1o", correlation=6),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases_are_equivariant(name: str) -> None:
    report = check_module(randomised(EDGE_CASES[name]), trials=3, atol=1e-10, every_value=True)
    assert report.passed, report.render()


def wigner(irreps: str, rot: torch.Tensor) -> torch.Tensor:
    """e3nn's representation of ``irreps`` at ``rot`` (a reflection flips the odd irreps),
    built in float64 (e3nn builds its constants in the default dtype)."""
    with float64_default():
        return o3.Irreps(irreps).D_from_matrix(rot)


def random_o3(gen: torch.Generator, reflect: bool) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if (torch.det(q) < 0) != reflect:
        q = -q
    return q


@pytest.mark.parametrize("reflect", [False, True])
@pytest.mark.parametrize("kind", list(SPECIES_TYPES))
def test_rotations_reflections_and_permutations_commute_with_it(reflect: bool, kind: str):
    """f(a D(g)ᵀ)[π] = f(a)[π] D(g)ᵀ with random parameters; ties: repeated nodes and
    species give repeated rows."""
    module = randomised(spec(SPECIES_TYPES[kind]), seed=5)
    gen = torch.Generator().manual_seed(11 + reflect)
    a = torch.randn(6, o3.Irreps(A).dim, generator=gen, dtype=torch.float64)
    z = species_values(kind, 6, gen)
    a[4], z[4] = a[1], z[1]  # a tie
    rot = random_o3(gen, reflect)
    perm = torch.randperm(6, generator=gen)
    moved = module(a=(a @ wigner(A, rot).T)[perm], z=z[perm])["y"]
    expected = (module(a=a, z=z)["y"] @ wigner(OUT, rot).T)[perm]
    assert (moved - expected).abs().max() < 1e-10
    assert torch.equal(module(a=a, z=z)["y"][4], module(a=a, z=z)["y"][1])
    assert expected.abs().max() > 1e-2


def test_every_node_of_one_species_is_the_same_function() -> None:
    """Equal species: equal weights; the result of a node is that of the node alone."""
    module = randomised(spec(), seed=2)
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(5, o3.Irreps(A).dim, generator=gen, dtype=torch.float64)
    z = torch.full((5,), 2)
    together = module(a=a, z=z)["y"]
    alone = torch.cat([module(a=a[i : i + 1], z=z[i : i + 1])["y"] for i in range(5)])
    assert torch.allclose(together, alone, atol=1e-13)


@pytest.mark.parametrize("kind", list(SPECIES_TYPES))
def test_an_empty_set_gives_an_empty_result(kind: str) -> None:
    module = randomised(spec(SPECIES_TYPES[kind]))
    a = torch.zeros(0, o3.Irreps(A).dim, dtype=torch.float64, requires_grad=True)
    z = species_values(kind, 0, torch.Generator())
    y = module(a=a, z=z)["y"]
    assert y.shape == (0, o3.Irreps(OUT).dim)
    (grad,) = torch.autograd.grad(y.sum(), a)
    assert grad.shape == a.shape


# ---------------------------------------------------------------------------------------------
# Derivatives

SMALL_A, SMALL_OUT = "2x0e + 2x1o", "2x0e + 2x1o"


def small_function(kind: str):
    """``a, *weights -> y`` of a small module with labels or one-hot species."""
    module = randomised(spec(SPECIES_TYPES[kind], a=SMALL_A, out=SMALL_OUT), seed=9)
    names = [name for name, _ in module.named_parameters()]
    z = species_values(kind, 2, torch.Generator().manual_seed(4))

    def run(a: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, weights, strict=True))
        return torch.func.functional_call(module, params, (), {"a": a, "z": z})["y"]

    weights = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
    return run, weights


@pytest.mark.parametrize("at_zero", [False, True])
@pytest.mark.parametrize("kind", list(SPECIES_TYPES))
def test_first_and_second_derivatives_are_exact(kind: str, at_zero: bool) -> None:
    run, weights = small_function(kind)
    dim = o3.Irreps(SMALL_A).dim
    a = torch.zeros(2, dim, dtype=torch.float64) if at_zero else torch.randn(2, dim).double()
    a.requires_grad_(True)
    assert torch.autograd.gradcheck(run, (a, *weights))
    assert torch.autograd.gradgradcheck(run, (a, *weights))


def test_second_derivatives_are_finite_through_create_graph() -> None:
    """A force-like use: d/da of a projection with ``create_graph``, then its gradient (a
    Hessian-vector product), finite at a = 0 and elsewhere, and nonzero away from 0."""
    run, weights = small_function("labels")
    dim = o3.Irreps(SMALL_A).dim
    for a in (torch.zeros(2, dim, dtype=torch.float64), torch.randn(2, dim).double()):
        a.requires_grad_(True)
        y = run(a, *weights)
        (first,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), a, create_graph=True)
        (second,) = torch.autograd.grad(first.pow(2).sum(), a)
        assert torch.isfinite(first).all() and torch.isfinite(second).all()
    assert second.abs().max() > 0


# ---------------------------------------------------------------------------------------------
# Traces


@pytest.mark.parametrize("kind", list(SPECIES_TYPES))
def test_compiles_and_exports_to_the_same_values(kind: str) -> None:
    module = randomised(spec(SPECIES_TYPES[kind]))
    gen = torch.Generator().manual_seed(1)
    inputs = {
        "a": torch.randn(5, o3.Irreps(A).dim, generator=gen, dtype=torch.float64),
        "z": species_values(kind, 5, gen),
    }
    expected = assert_captures(module, inputs, atol=1e-12)
    assert expected["y"].abs().max() > 1e-2

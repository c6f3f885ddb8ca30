# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""MACE's symmetric contraction (issue 16): typing (good types, each error's code and primary
span), the numbers against a reference written here from the paper's equations, and the
basis of coupling paths against the characters of O(3).

The reference (Batatia et al. 2022, eqs. 8-10) builds each path's coupling tensor on the whole
of ``V^{⊗ν}`` (``V = ⊕_s V_{l_s}``) from e3nn's 3j symbols, not geoc's, symmetrises it over all
``ν!`` orderings of its factors, and contracts it with ``A ⊗ .. ⊗ A``. Only the path labels
(the documented parameter layout) come from geoc; their number per irrep is checked against
``Sym^ν`` by characters. Equivariance, derivatives and tracing:
``test_symmetric_contraction_runtime.py``.

``@`` in a test body marks where the primary span of the expected diagnostic must start."""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cases import cases, values
from e3nn import o3
from helpers import InlineSpec, assert_fails_at, header, randomised

from geoc.budget import Budget
from geoc.diagnostics import GeoError
from geoc.domains import Domain
from geoc.groups import Group
from geoc.o3 import CouplingPath, symmetric_paths
from geoc.o3.coupling import _symmetrised
from geoc.ops import OpContext, infer_call, lookup
from geoc.ops.o3_contraction import MAX_CORRELATION, contraction_paths
from geoc.pipeline import frontend
from geoc.types import FeatureType

HERE = Path(__file__).parent
CASES = HERE / "test_symmetric_contraction.cases"

O3 = "O(3) x S(nodes)"
SPEC = InlineSpec(
    header("", values(CASES, "header")), O3, "pointcloud(nodes, dim=3, edges=full)", value="q"
)

# ---------------------------------------------------------------------------------------------
# Typing


@pytest.mark.parametrize(("expr", "expected"), cases(CASES, "good"))
def test_good_types(expr: str, expected: str) -> None:
    assert SPEC.infer(expr) == expected


@pytest.mark.parametrize("group", ["SO(3) x S(nodes)", "SE(3) x S(nodes)"])
def test_without_reflections_parity_is_no_rule(group: str) -> None:
    """1o is 1e without reflections: order 1 reaches `4x1e`, and Sym²(1) = 0 + 2 reaches 2o."""
    expr = "symmetric_contraction(b, z, out=4x1e + 4x2o, correlation=2)"
    assert SPEC.infer(expr, group) == "4x1e + 4x2o over nodes"
    body = "    q = symmetric_contraction(@b, z, out=4x1e + 4x2o, correlation=2)"
    SPEC.assert_error(body, "GEO403", O3)  # under O(3) neither is reached


@pytest.mark.parametrize(("body", "code"), cases(CASES, "bad"))
def test_errors(body: str, code: str) -> None:
    SPEC.assert_error(body, code)


def test_the_symmetric_zero_is_named() -> None:
    with pytest.raises(GeoError) as info:
        frontend(SPEC.text("    q = symmetric_contraction(b, z, out=4x1e, correlation=2)"))
    diag = info.value.diagnostics[0]
    assert "cannot produce `4x1e` from `4x1o` with up to 2 factors" in diag.message
    assert "raise `correlation`" in diag.help


def test_species_mixing_labels_with_scalars_is_rejected() -> None:
    """No spec can build such a value (GEO361 on inputs, GEO360 on operators), so the rule is
    called as every call is typed."""
    ctx = OpContext("symmetric_contraction", Group.parse(O3), Domain.parse("set(nodes)"))
    a = FeatureType.parse("4x0e + 4x1o over nodes")
    species = FeatureType.parse("index(3) + 2 x scalar over nodes")
    attrs = {"out": FeatureType.parse("4x0e"), "correlation": 2}
    with pytest.raises(GeoError) as info:
        infer_call(ctx, lookup("symmetric_contraction"), [a, species], attrs)
    assert info.value.codes == ["GEO362"]


def test_correlation_runs_up_to_its_bound() -> None:
    top = MAX_CORRELATION
    assert SPEC.infer(f"symmetric_contraction(b, z, out=4x1o, correlation={top})") == (
        "4x1o over nodes"
    )
    body = f"    q = @symmetric_contraction(b, z, out=4x1o, correlation={top + 1})"
    err = SPEC.assert_error(body, "GEO302")
    assert f"from 1 to {top}, got {top + 1}" in err.diagnostics[0].message


def test_a_tiny_budget_refuses_the_products() -> None:
    body = "    q = @symmetric_contraction(a, z, out=4x0e, correlation=3)"
    err = assert_fails_at(
        SPEC.text(body), "GEO520", lambda text: frontend(text, budget=Budget(max_dim=5))
    )
    # 3 + 6 + 10 multisets of 1, 2, 3 of the 3 irreps
    assert "up to order 3 needs 19 dimensions, over the budget of 5" in err.diagnostics[0].message


# ---------------------------------------------------------------------------------------------
# Independent helpers: characters of O(3) and coupling tensors from e3nn's 3j symbols

Slot = tuple[int, int]


def _chi(l: int, theta: np.ndarray) -> np.ndarray:
    """The SO(3) character of V_l at rotation angle θ: Σ_m e^{imθ}."""
    return 1 + 2 * sum(np.cos(m * theta) for m in range(1, l + 1))


def sym_multiplicity(slots: list[Slot], target: Slot, order: int, samples: int = 257) -> int:
    """The multiplicity of ``target`` in ``Sym^order(⊕ V_{l_s, p_s})``: characters of O(3) =
    SO(3) x {1, -1}, the angle integrated with the Weyl measure (1 - cos θ)/π on [0, π]
    (trapezoid: exact for these trigonometric polynomials), ``Sym^ν`` by Newton's identity."""
    theta = np.linspace(0, np.pi, samples)
    weights = np.full(samples, np.pi / (samples - 1))
    weights[[0, -1]] /= 2
    measure = weights * (1 - np.cos(theta)) / np.pi
    total = 0.0
    for inversion in (1, -1):

        def power_sum(k: int, inversion: int = inversion) -> np.ndarray:  # χ_V(g^k)
            return sum((p if inversion == -1 else 1) ** k * _chi(l, k * theta) for l, p in slots)

        h = [np.ones_like(theta)]
        for n in range(1, order + 1):
            h.append(sum(power_sum(k) * h[n - k] for k in range(1, n + 1)) / n)
        l, p = target
        total += (h[order] * (p if inversion == -1 else 1) * _chi(l, theta) * measure).sum() / 2
    assert abs(total - round(total)) < 1e-9, total
    return round(total)


@functools.cache
def w3j(l1: int, l2: int, l3: int) -> np.ndarray:
    return o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()


def full_tensor(path: CouplingPath, slots: list[Slot]) -> np.ndarray:
    """``T_η`` on ``V^{⊗ν} ⊗ V_L``, symmetrised over the ν! orderings of its factors: the
    left-to-right chain ``sqrt(2 L_k + 1) 3j(L_{k-1}, l_k, L_k)`` in its slots' block."""
    ls = [slots[s][0] for s in path.slots]
    degrees = (ls[0], *path.intermediates, path.l)[: path.order]
    assert degrees[-1] == path.l
    chain = np.eye(2 * ls[0] + 1)
    for k in range(1, path.order):
        step = math.sqrt(2 * degrees[k] + 1) * w3j(degrees[k - 1], ls[k], degrees[k])
        chain = np.tensordot(chain, step, axes=(-1, 0))
    starts = np.cumsum([0] + [2 * l + 1 for l, _ in slots])
    full = np.zeros([starts[-1]] * path.order + [2 * path.l + 1])
    block = tuple(slice(starts[s], starts[s + 1]) for s in path.slots)
    full[block] = chain
    orderings = list(itertools.permutations(range(path.order)))
    return sum(np.transpose(full, (*p, path.order)) for p in orderings) / len(orderings)


# ---------------------------------------------------------------------------------------------
# Numbers against the reference

N, K, SPECIES = 4, 2, 3


def _irreps_text(slots: list[Slot], k: int) -> str:
    return " + ".join(f"{k}x{l}{'e' if p == 1 else 'o'}" for l, p in slots)


def _dim(slots: list[Slot]) -> int:
    return sum(K * (2 * l + 1) for l, _ in slots)


def _reachable(slots: list[Slot], correlation: int, parity: bool) -> list[Slot]:
    """Every irrep some product of 1..ν factors has (by characters), ascending."""
    top = correlation * max(l for l, _ in slots)
    found = []
    for l in range(top + 1):
        for p in (1, -1) if parity else (1,):
            if any(sym_multiplicity(slots, (l, p), n) for n in range(1, correlation + 1)):
                found.append((l, p))
    return found


def contraction_module(a: str, out: str, correlation: int, group: str, species: str):
    text = f"""model M() {{
    symmetry {group}
    domain set(nodes)
    input a: {a} over nodes
    input z: {species} over nodes
    output y: {out} over nodes = symmetric_contraction(a, z, out={out}, correlation={correlation})
}}
"""
    return randomised(text, seed=correlation)


def reference(
    module, slots: list[Slot], outs: list[Slot], correlation: int, a, row_weights, group=O3
) -> torch.Tensor:
    """``out_t[n, c, M] = Σ_η W_t[n, η, c] Σ_m T_η[m_1..m_ν, M] A_c[m_1] .. A_c[m_ν]`` with
    ``row_weights(table)`` each node's ``W_t`` ``[N, paths, k]``; the paths' labels (the
    parameters' layout) are those of `contraction_paths`, their tensors built here."""
    at, parts = 0, []
    for l, _ in slots:
        parts.append(a[:, at : at + K * (2 * l + 1)].reshape(-1, K, 2 * l + 1))
        at += K * (2 * l + 1)
    x = torch.cat(parts, dim=-1)  # [N, k, d]: channel c of every slot
    a_type = FeatureType.parse(_irreps_text(slots, K))
    out_type = FeatureType.parse(_irreps_text(outs, K))
    outputs = []
    for t, paths in enumerate(contraction_paths(a_type, out_type, correlation, Group.parse(group))):
        weights = row_weights(module.get_parameter(f"y.weight_{t}").detach())
        total = 0
        for index, path in enumerate(paths):
            tensor = torch.from_numpy(full_tensor(path, slots))
            features = torch.einsum("i...,nci->nc...", tensor, x)  # one factor at a time
            for _ in range(path.order - 1):
                features = torch.einsum("nci...,nci->nc...", features, x)
            total = total + weights[:, index, :, None] * features
        outputs.append(total.reshape(len(a), -1))
    return torch.cat(outputs, dim=-1)


def _compare(slots: list[Slot], correlation: int, group: str = O3) -> None:
    parity = group == O3
    kernel_slots = slots if parity else [(l, 1) for l, _ in slots]
    outs = _reachable(kernel_slots, correlation, parity)
    a_text, out_text = _irreps_text(slots, K), _irreps_text(outs, K)
    module = contraction_module(a_text, out_text, correlation, group, f"index({SPECIES})")
    gen = torch.Generator().manual_seed(7)
    a = torch.randn(N, _dim(slots), generator=gen, dtype=torch.float64)
    z = torch.tensor([2, 0, 1, 2])
    got = module(a=a, z=z)["y"]
    expected = reference(module, slots, outs, correlation, a, lambda w: w[z], group)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-10
    assert expected.abs().max() > 1e-2  # not all zero


def natural(lmax: int) -> list[Slot]:
    """0e + 1o + 2e + .. up to ``lmax``: MACE's one-particle basis."""
    return [(l, (-1) ** l) for l in range(lmax + 1)]


@pytest.mark.parametrize("lmax", [0, 1, 2, 3])
@pytest.mark.parametrize("correlation", [1, 2, 3])
def test_equals_the_reference(correlation: int, lmax: int) -> None:
    _compare(natural(lmax), correlation)


def test_equals_the_reference_beyond_the_acceptance() -> None:
    """Four factors (the prefix stages reused twice)."""
    _compare(natural(1), 4)


def test_equals_the_reference_without_reflections() -> None:
    _compare(natural(2), 3, "SO(3) x S(nodes)")


def test_equals_the_reference_with_repeated_and_unusual_irreps() -> None:
    _compare([(2, 1), (1, 1), (0, -1), (2, 1)], 3)


def test_one_hot_scalars_equal_labels_and_scalars_mix_rows() -> None:
    """`n x scalar` species weight the rows of the same table: a one-hot row picks one, as the
    label would; any other row is the same mixture of the rows' results."""
    slots, outs = natural(2), [(0, 1), (1, -1), (2, 1)]
    a_text, out_text = _irreps_text(slots, K), _irreps_text(outs, K)
    labels = contraction_module(a_text, out_text, 3, O3, f"index({SPECIES})")
    scalars = contraction_module(a_text, out_text, 3, O3, f"{SPECIES} x scalar")
    scalars.load_state_dict(labels.state_dict())
    a = torch.randn(N, _dim(slots), dtype=torch.float64)
    z = torch.tensor([1, 1, 0, 2])
    one_hot = torch.nn.functional.one_hot(z, SPECIES).to(torch.float64)
    assert torch.allclose(scalars(a=a, z=one_hot)["y"], labels(a=a, z=z)["y"], atol=1e-12)
    mix = torch.randn(N, SPECIES, dtype=torch.float64)
    expected = reference(labels, slots, outs, 3, a, lambda w: torch.einsum("ni,ipc->npc", mix, w))
    assert (scalars(a=a, z=mix)["y"] - expected).abs().max() < 1e-10


# ---------------------------------------------------------------------------------------------
# The basis: as many paths as Sym^ν has copies of each irrep, and independent

SLOT_LISTS = [
    ([(1, -1)], 4),
    ([(2, 1)], 4),
    ([(0, 1), (1, -1)], 4),
    ([(0, 1), (1, -1), (2, 1)], 4),
    ([(1, -1), (1, -1), (2, 1)], 4),  # a repeated slot
    ([(1, 1), (0, -1), (1, 1)], 4),
    ([(0, 1), (1, -1), (2, 1), (3, -1)], 3),
    ([(2, 1), (2, 1), (3, 1)], 3),
]


@pytest.mark.parametrize(("slots", "correlation"), SLOT_LISTS)
def test_paths_count_the_copies_in_the_symmetric_power(slots: list[Slot], correlation: int):
    for l in range(correlation * max(l for l, _ in slots) + 2):
        for p in (1, -1):
            paths = symmetric_paths(slots, (l, p), correlation)
            for order in range(1, correlation + 1):
                count = sum(path.order == order for path in paths)
                assert count == sym_multiplicity(slots, (l, p), order), (l, p, order)


def test_the_character_formula_knows_small_cases() -> None:
    """Sym²(1o) = 0e + 2e, Sym³(1o) = 1o + 3o, Sym²(2e) = 0e + 2e + 4e."""
    assert [sym_multiplicity([(1, -1)], (l, 1), 2) for l in range(4)] == [1, 0, 1, 0]
    assert [sym_multiplicity([(1, -1)], (l, -1), 3) for l in range(5)] == [0, 1, 0, 1, 0]
    assert [sym_multiplicity([(2, 1)], (l, 1), 2) for l in range(6)] == [1, 0, 1, 0, 1, 0]


#: The tensors are (Σ (2 l_s + 1))^ν (2L + 1) numbers: ν = 4 on the smaller slot lists only.
INDEPENDENCE = [(slots, min(nu, 3 if len(slots) > 2 else 4)) for slots, nu in SLOT_LISTS[:6]]


@pytest.mark.parametrize(("slots", "correlation"), INDEPENDENCE)
def test_kept_paths_are_independent(slots: list[Slot], correlation: int) -> None:
    """The symmetrised tensors of the kept paths of each order and irrep have full rank."""
    for l in range(correlation * max(l for l, _ in slots) + 1):
        for p in (1, -1):
            paths = symmetric_paths(slots, (l, p), correlation)
            for order in range(1, correlation + 1):
                kept = [full_tensor(path, slots).ravel() for path in paths if path.order == order]
                if kept:
                    assert np.linalg.matrix_rank(np.stack(kept), tol=1e-8) == len(kept)


@pytest.mark.parametrize("groups", [(0, 0), (0, 0, 0, 3), (0, 0, 2, 2, 2), (0, 1, 2), (0,) * 5])
def test_the_symmetriser_averages_over_every_exchange_of_equal_slots(groups) -> None:
    """Regression: the average over the m! permutations of m equal slots is built from m(m - 1)/2
    transposes (it summed the m! permutations: correlation 6 of one 2e slot took 7 minutes)."""
    tensor = np.random.default_rng(len(groups)).normal(size=(3,) * len(groups) + (2,))
    stabiliser = [
        p
        for p in itertools.permutations(range(len(groups)))
        if all(groups[q] == groups[i] for i, q in enumerate(p))
    ]
    expected = sum(np.transpose(tensor, (*p, len(groups))) for p in stabiliser) / len(stabiliser)
    assert np.allclose(_symmetrised(tensor, groups), expected, atol=1e-14)

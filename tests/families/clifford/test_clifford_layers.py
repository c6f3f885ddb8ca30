"""The learned Clifford layers typed for the declared group and GLGENN's weight sharing:
`mv_linear(..., dual=true)` spans the solver's equivariant basis under SO(p, q) / SO+(p, q)
(and is refused under reflections, which the numeric check confirms it breaks);
`share=mod4` equals the grade-wise layer with tied weights; `mv_product` equals the weighted
geometric product written from CGENN's and GLGENN's equations; parameter counts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_captures, assert_fails_at

from geoc import clifford, solver
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.verify import check
from geoc.groups import Group
from geoc.ops import clifford as clifford_ops

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _layer(group: str, sig: str, call: str, copies: int = 1, out: int = 1) -> str:
    return f"""model M() {{
    symmetry {group} x S(set)
    domain set(set)
    input x: {copies} x multivector({sig}) over set
    output y: {out} x multivector({sig}) over set = {call}
}}
"""


def _maps(model: torch.nn.Module, blades: int) -> list[np.ndarray]:
    """The layer's linear map [out, in] for each parameter coordinate set to 1 (the others
    0): the maps its weights span."""
    params = list(model.parameters())
    maps = []
    for param in params:
        for at in range(param.numel()):
            with torch.no_grad():
                for other in params:
                    other.zero_()
                param.view(-1)[at] = 1.0
            out = model(x=torch.eye(blades, dtype=F64))["y"]  # row d: the image of blade d
            maps.append(out.detach().numpy().T)
    return maps


def _same_span(a: np.ndarray, b: np.ndarray) -> bool:
    rank = np.linalg.matrix_rank
    return rank(a) == rank(b) == rank(np.hstack([a, b]))


def _solver_basis(group: str) -> np.ndarray:
    mv = solver.Multivector()
    return solver.equivariant_basis(Group.parse(group).channel_group, mv, mv, cache=False)


SPECIAL = [("SO(3, 0)", "3, 0"), ("SO+(1, 3)", "1, 3"), ("SO(2, 1)", "2, 1")]


@pytest.mark.parametrize(("group", "sig"), SPECIAL)
def test_the_dual_layer_spans_the_solver_basis_of_the_special_groups(group: str, sig: str) -> None:
    """One weight per basis map: as many parameters as the solver's basis has elements, and
    the maps they make span exactly that basis (grade-wise maps and the Hodge duals)."""
    n = sum(int(s) for s in sig.split(","))
    model = geoc_compile(_layer(group, sig, "mv_linear(x, 1, bias=false, dual=true)"), dtype=F64)
    basis = _solver_basis(group)
    maps = _maps(model, 2**n)
    assert len(maps) == basis.shape[1] == 2 * (n + 1)
    assert _same_span(basis, np.stack([m.ravel() for m in maps], axis=1))
    # copies: one weight per output copy, input copy and basis map
    wide = geoc_compile(_layer(group, sig, "mv_linear(x, 3, bias=false, dual=true)", 2, 3))
    assert sum(p.numel() for p in wide.parameters()) == 3 * 2 * basis.shape[1]


def test_shared_dual_weights_lie_in_the_basis_of_so_plus() -> None:
    """`share=mod4` with `dual=true` on Cl(1, 3): 8 weights (4 classes, with and without I),
    inside the 10-map basis of SO+(1, 3)."""
    call = "mv_linear(x, 1, bias=false, dual=true, share=mod4)"
    maps = _maps(geoc_compile(_layer("SO+(1, 3)", "1, 3", call), dtype=F64), 16)
    basis = _solver_basis("SO+(1, 3)")
    stacked = np.stack([m.ravel() for m in maps], axis=1)
    assert len(maps) == np.linalg.matrix_rank(stacked) == 8
    assert np.linalg.matrix_rank(np.hstack([basis, stacked])) == basis.shape[1] == 10


@pytest.mark.parametrize(("group", "sig"), [("O(1, 3)", "1, 3"), ("O(3, 0)", "3, 0")])
@pytest.mark.parametrize("share", ["grade", "mod4"])
def test_without_dual_the_layer_lies_in_the_basis_of_o_pq(group: str, sig: str, share: str) -> None:
    """Grade-wise maps span O(p, q)'s basis; GLGENN's shared ones lie in it, fewer of them."""
    n = sum(int(s) for s in sig.split(","))
    call = f"mv_linear(x, 1, bias=false, share={share})"
    maps = _maps(geoc_compile(_layer(group, sig, call), dtype=F64), 2**n)
    basis = _solver_basis(group)
    stacked = np.stack([m.ravel() for m in maps], axis=1)
    assert len(maps) == clifford.class_count(n, share) == min(n + 1, 4 if share == "mod4" else 9)
    assert np.linalg.matrix_rank(np.hstack([basis, stacked])) == basis.shape[1]
    if share == "grade":
        assert _same_span(basis, stacked)


@pytest.mark.parametrize("group", ["O(1, 3)", "O(3, 0)", "E(3)", "O(3)", "O(2, 1)"])
def test_dual_weights_are_refused_under_reflections(group: str) -> None:
    sig = {"O(1, 3)": "1, 3", "O(2, 1)": "2, 1"}.get(group, "3, 0")
    text = _layer(group, sig, "mv_linear(x, 1, dual=@true)")
    error = assert_fails_at(text, "GEO429")
    assert error.diagnostics[0].help and "SO+(p, q)" in error.diagnostics[0].help


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("mv_linear(x, 1, share=@mod3)", "GEO302"),
        ("mv_product(x, x, share=@grades)", "GEO302"),
        ("mv_product(x, @concat(x, x))", "GEO424"),
    ],
)
def test_sharing_and_product_errors(body: str, code: str) -> None:
    assert_fails_at(_layer("SO+(1, 3)", "1, 3", body), code)


DUAL_MODEL = """model Dual() {{
    symmetry {group} x S(set)
    domain set(set)
    input x: 2 x multivector(1, 3) over set
    h = mv_linear(x, 3, dual=true)
    h = mv_norm(h + mv_product(h, mv_linear(h, 3, bias=false, dual=true), share=mod4))
    output y: 2 x multivector(1, 3) over set = mv_linear(mv_gate(h), 2, dual=true)
    output s: multivector(1, 3) = mv_linear(sum(h, over=set), 1, dual=true)
}}
"""


def test_the_dual_layer_passes_geoc_check_under_so_plus_1_3() -> None:
    """Boosts of rapidity up to 2 (the sampler's bound) and rotations, random parameters,
    batches, to 1e-10 in float64."""
    report = check(DUAL_MODEL.format(group="SO+(1, 3)"), trials=6, nodes=5, graphs=2)
    assert report.passed, report
    assert max(row.max_error for row in report.outputs) < 1e-10
    assert all("boost" in e for e in report.elements)


def test_forced_under_o_1_3_the_dual_layer_fails_the_numeric_check(monkeypatch) -> None:
    """The type rule is what stops it: with the rule's test bypassed the same model compiles
    under O(1, 3), and the check meets a reflection that flips the dual part."""
    text = DUAL_MODEL.format(group="O(1, 3)")
    assert_fails_at(
        text.replace("dual=true)\n    h = mv_norm", "dual=@true)\n    h = mv_norm"), "GEO429"
    )
    monkeypatch.setattr(clifford_ops, "keeps_orientation", lambda group: True)
    report = check(text, trials=4, nodes=5, graphs=2)
    assert not report.passed
    assert max(row.max_error for row in report.outputs) > 1e-3


# --- GLGENN's sharing equals the grade-wise layers with tied weights ---------------------------

SHARED = [("O(1, 3)", "1, 3"), ("O(2, 3)", "2, 3")]


def _pair(text: str, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The spec with every `share=mod4` (seeded weights) and the grade-wise one."""
    shared = geoc_compile(text, dtype=F64, seed=seed)
    graded = geoc_compile(text.replace("share=mod4", "share=grade"), dtype=F64, seed=seed)
    return shared, graded


def _inputs(n: int, copies: int, count: int = 7) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"x": torch.randn(count, copies * 2**n, dtype=F64, generator=g)}


@pytest.mark.parametrize(("group", "sig"), SHARED)
def test_shared_linear_equals_the_grade_wise_layer_with_tied_weights(group: str, sig: str) -> None:
    n = sum(int(s) for s in sig.split(","))
    text = _layer(group, sig, "mv_linear(x, 1, share=mod4)", copies=3)
    shared, graded = _pair(text)
    tied = dict(shared.named_parameters())
    with torch.no_grad():
        for name, param in graded.named_parameters():
            source = tied[name]
            param.copy_(source[..., np.arange(n + 1) % 4] if name.endswith("weight") else source)
    inputs = _inputs(n, 3)
    assert (shared(**inputs)["y"] - graded(**inputs)["y"]).abs().max() < 1e-12
    assert tied["y.weight"].shape == (1, 3, 4)
    assert dict(graded.named_parameters())["y.weight"].shape == (1, 3, n + 1)


@pytest.mark.parametrize(("group", "sig"), SHARED)
def test_shared_product_equals_the_grade_wise_product_with_tied_weights(
    group: str, sig: str
) -> None:
    p, q = (int(s) for s in sig.split(","))
    text = _layer(group, sig, "mv_product(x, x, share=mod4)")
    shared, graded = _pair(text)
    grade_paths, _ = clifford.product_paths(p, q, "grade")
    mod4_paths, count = clifford.product_paths(p, q, "mod4")
    w4 = dict(shared.named_parameters())["y.weight"]
    with torch.no_grad():
        wg = dict(graded.named_parameters())["y.weight"]
        used = grade_paths < wg.shape[1]
        # a grade triple determines its triple mod 4: every grade path takes one shared weight
        for g_path, m_path in set(zip(grade_paths[used], mod4_paths[used], strict=True)):
            wg[:, g_path] = w4[:, m_path]
    inputs = _inputs(p + q, 1)
    assert (shared(**inputs)["y"] - graded(**inputs)["y"]).abs().max() < 1e-12
    assert w4.shape[1] == count < wg.shape[1]


def _reference_product(a: np.ndarray, b: np.ndarray, weights: dict, p: int, q: int) -> np.ndarray:
    """CGENN's weighted geometric product from its equation, grade triple by triple:
    ``sum_{r,s,t} w_{rst} <<a>_r <b>_s>_t`` (one copy)."""
    n, table = p + q, clifford.cayley(p, q)
    proj = [np.diag((clifford.grades(n) == k).astype(float)) for k in range(n + 1)]
    out = np.zeros_like(a)
    for (r, s, t), w in weights.items():
        product = np.einsum("bi,bj,ijk->bk", a @ proj[r], b @ proj[s], table)
        out += w * product @ proj[t]
    return out


@pytest.mark.parametrize(("p", "q"), [(3, 0), (1, 3), (2, 1)])
def test_the_product_equals_its_equation(p: int, q: int) -> None:
    """The paths are the grade triples the product connects, in lexicographic order."""
    n = p + q
    text = _layer(f"O({p}, {q})", f"{p}, {q}", "mv_product(x, reverse(x))")
    model = geoc_compile(text, dtype=F64, seed=3)
    table = clifford.cayley(p, q)
    g = clifford.grades(n)
    entries = itertools.product(range(2**n), repeat=3)
    triples = sorted({(g[i], g[j], g[k]) for i, j, k in entries if table[i, j, k]})
    weight = dict(model.named_parameters())["y.weight"].detach().numpy()[0]
    assert len(triples) == len(weight)
    x = _inputs(n, 1)["x"]
    right = x.numpy() * clifford.reverse_signs(n)
    want = _reference_product(x.numpy(), right, dict(zip(triples, weight, strict=True)), p, q)
    assert np.abs(model(x=x)["y"].detach().numpy() - want).max() < 1e-12


def test_glgenn_uses_fewer_parameters_than_its_grade_wise_twin() -> None:
    """specs/glgenn.geo shares weights (grades 0 and 4 of Cl(1, 3) together); the same spec
    grade-wise has one more weight per linear copy pair and six more per product copy."""
    text = (Path(__file__).resolve().parents[3] / "specs" / "glgenn.geo").read_text()
    shared, graded = _pair(text)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # per layer: 3 linear maps of (8 x 16), (8 x 8), (8 x 16) copy pairs, one product of 8 copies
    # + the embedding (8 x 1): each linear pair loses 1 weight, each product copy 35 - 29 = 6
    per_layer = 8 * 16 + 8 * 8 + 8 * 16 + 6 * 8
    assert count(graded) - count(shared) == 2 * per_layer + 8
    assert count(shared) == 3809


@pytest.mark.slow
def test_dual_and_shared_layers_capture() -> None:
    model = geoc_compile(DUAL_MODEL.format(group="SO+(1, 3)"))
    g = torch.Generator().manual_seed(0)
    out = assert_captures(model, {"x": torch.randn(5, 32, generator=g)}, atol=1e-5)
    assert out["y"].shape == (5, 32) and out["s"].shape == (16,)

"""Resource budgets (issue 13): the solver and the checker size every basis, Gram matrix and
action matrix before building it and refuse one over the budget with GEO520 at the layer;
contracts reason per run of copies, so a huge multiplicity costs O(terms); a recursive block is
GEO521 at the call."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from helpers import assert_fails_at

from geoc import solver
from geoc.budget import Budget, BudgetExceeded, using
from geoc.diagnostics import GeoError
from geoc.ops.solver_ops import pair_basis
from geoc.pipeline import frontend


@pytest.fixture(autouse=True)
def fresh_solver_cache(tmp_path, monkeypatch):
    """No basis from an earlier run (on disk or memoised) lets a solve skip its budget."""
    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path))
    pair_basis.cache_clear()
    yield
    pair_basis.cache_clear()


def linear_spec(group: str, source: str, target: str) -> str:
    return f"""model M() {{
    symmetry {group}
    input t: {source}
    output y: {target} = @linear(t, {target})
}}
"""


# --- the solver: refused before the solve, at the layer -----------------------------------------


@pytest.mark.parametrize(
    ("group", "source", "target", "needed"),
    [
        ("Lorentz(3)", "tensor(4)", "tensor(4)", "65,536 dimensions"),  # took about a minute
        ("SO(6)", "tensor(3)", "tensor(3)", "46,656 dimensions"),  # took about a minute
        ("SO(4)", "tensor(3)", "tensor(3)", "4,096 dimensions"),  # 22 s
    ],
)
def test_slow_numeric_solves_are_refused_by_the_default_budget(group, source, target, needed):
    start = time.perf_counter()
    err = assert_fails_at(linear_spec(group, source, target), "GEO520")
    assert time.perf_counter() - start < 5
    first = err.diagnostics[0]
    assert needed in first.message and "over the budget of 2,048 dimensions" in first.message
    assert "--max-dim" in first.help and "--max-bytes" in first.help


def test_a_raised_budget_lets_the_solve_run_and_a_lowered_one_refuses_it():
    spec = linear_spec("Lorentz(3)", "tensor(2)", "tensor(2)").replace("@", "")  # 256 dims
    with pytest.raises(GeoError) as info:
        frontend(spec, budget=Budget(max_dim=100))
    assert info.value.diagnostics[0].code == "GEO520"
    assert "256 dimensions, over the budget of 100" in info.value.diagnostics[0].message
    assert len(frontend(spec)) == 2  # the default budget affords it


def test_the_budget_fires_before_any_allocation_over_the_limit():
    """The dense Gram matrix of O(3) tensor(3) -> tensor(3) is 729 x 729 (4.1 MiB): under a
    1 MiB budget the solve is refused, and nothing near the Gram matrix is ever allocated."""
    limit = 1 << 20
    group, rep = solver.O(3), solver.T(3)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with using(Budget(max_bytes=limit)), pytest.raises(BudgetExceeded) as info:
            solver.equivariant_basis(group, rep, rep, cache=False, method="dense")
        refused_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        solver.equivariant_basis(group, rep, rep, cache=False, method="dense")
        solved_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "the Gram matrix" in str(info.value) and "over the budget of 1.0 MiB" in str(info.value)
    assert refused_peak < limit < 4 * limit < solved_peak  # the test can fail: the solve is big


# --- the checker: an action matrix over the budget is refused before any trial -------------------


def test_the_checker_refuses_a_kronecker_power_over_the_budget():
    from geoc.backends.torch_fx.api import compile as lower
    from geoc.backends.torch_fx.verify import check_module

    spec = """model M() {
    symmetry O(5)
    @input t: tensor(2)
    output y: tensor(2) = linear(t, tensor(2))
}
"""
    module = lower(spec.replace("@", ""), dtype=__import__("torch").float64)
    err = assert_fails_at(spec, "GEO520", lambda _: check_module(module, budget=Budget(4000)))
    assert "`tensor(2)` (25 x 25 float64) needs 4.9 KiB, over the budget of 3.9 KiB" in str(err)
    assert check_module(module, trials=1).passed  # the default budget affords it


def test_o64_tensor4_is_refused_statically_sized_by_the_checker():
    """The issue's 512 GiB Kronecker product: sized, never built."""
    from geoc.backends.torch_fx.verify.actions import action_budget_problems

    graph = frontend(linear_spec("O(64)", "tensor(4)", "tensor(4)").replace("@", ""))
    problems = action_budget_problems(graph)
    assert [p.code for p in problems] == ["GEO520", "GEO520"]  # the input and the layer
    assert "16,777,216 x 16,777,216 float64" in problems[0].message
    assert (problems[0].span.line, problems[1].span.line) == (3, 4)


# --- contracts per run of copies: a huge multiplicity costs O(terms) ----------------------------


def test_a_billion_copies_type_and_check_statically_in_a_moment():
    start = time.perf_counter()
    graph = frontend("egnn", {"hidden": 10**9})
    assert time.perf_counter() - start < 5
    assert graph.outputs["energy"].type.copies == 1


HUGE = 10**9


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("dot(v, v)", f"{HUGE} x scalar"),
        ("s * v", f"{HUGE} x vector"),
        ("p * v", f"{HUGE} x pseudovector"),
        ("concat(v, v) - concat(v, v)", f"{2 * HUGE} x vector"),
        ("norm(v) * concat(v)", f"{HUGE} x vector"),
    ],
)
def test_per_copy_rules_of_huge_multiplicities(expr, expected):
    spec = f"""model M() {{
    symmetry O(3)
    input v: {HUGE} x vector
    input s: {HUGE} x scalar
    input p: pseudoscalar
    output y: {expected} = {expr}
}}
"""
    start = time.perf_counter()
    assert str(frontend(spec).outputs["y"].type) == expected
    assert time.perf_counter() - start < 5


def test_a_wrong_number_of_scales_names_both_counts():
    spec = f"""model M() {{
    symmetry O(3)
    input v: {HUGE} x vector
    input s: 2 x scalar
    output y: {HUGE} x vector = @s * v
}}
"""
    err = assert_fails_at(spec, "GEO300")
    assert f"one scalar per copy ({HUGE}) or a single scalar, got 2" in str(err)


# --- recursive blocks ---------------------------------------------------------------------------

_MODEL = """model M() {
    symmetry trivial
    input x: scalar
    output y: scalar = f(x)
}
"""


def test_a_block_calling_itself_is_geo521_at_the_call():
    spec = "block f(x: scalar) -> scalar {\n    return @f(x)\n}\n" + _MODEL
    err = assert_fails_at(spec, "GEO521")
    assert "(f -> f)" in err.diagnostics[0].message


def test_mutually_recursive_blocks_name_the_cycle():
    spec = (
        "block f(x: scalar) -> scalar {\n    return g(x)\n}\n"
        "block g(x: scalar) -> scalar {\n    return h(x)\n}\n"
        "block h(x: scalar) -> scalar {\n    return @f(x)\n}\n" + _MODEL
    )
    err = assert_fails_at(spec, "GEO521")
    assert "(f -> g -> h -> f)" in err.diagnostics[0].message


def test_a_block_called_twice_in_its_own_arguments_is_not_recursion():
    spec = "block f(x: scalar) -> scalar {\n    return x + x\n}\n" + _MODEL.replace(
        "f(x)", "f(f(f(x)))"
    )
    assert sum(n.op == "add" for n in frontend(spec)) == 3


# --- the lowering: parameters and channel layouts are sized before they are allocated ----------


@pytest.mark.parametrize(
    ("hidden", "line", "needed"),
    [
        (10**9, 21, "the channel layout of `1000000000 x scalar` needs 126.7 GiB"),
        (10**5, 8, "(100,000 x 200,001 float32) needs 74.5 GiB"),
    ],
)
def test_compile_refuses_huge_layers_at_the_layer(hidden, line, needed):
    from geoc.backends.torch_fx.api import compile as lower

    start = time.perf_counter()
    with pytest.raises(GeoError) as info:
        lower("egnn", params={"hidden": hidden})
    first = info.value.diagnostics[0]
    assert (first.code, first.span.file, first.span.line) == ("GEO520", "<builtin>/egnn.geo", line)
    assert needed in first.message
    assert time.perf_counter() - start < 5


# --- every built-in spec fits the default budgets -----------------------------------------------


@pytest.mark.parametrize("spec", [s.name for s in __import__("geoc").catalog.builtin_specs()])
def test_every_builtin_spec_fits_the_default_budgets(spec):
    from geoc.backends.torch_fx.verify.actions import action_budget_problems

    assert action_budget_problems(frontend(spec)) == []  # the proof ran under the default too


# --- expansion: `repeat` and inlined blocks are sized by their IR nodes -------------------------


def test_a_billion_layers_are_refused_at_the_repeat_count_before_unrolling():
    spec = """model M(depth: int = 1000000000) {
    symmetry trivial
    input x: 4 x scalar
    repeat @depth {
        x = linear(x, 4 x scalar)
    }
    output y: 4 x scalar = x
}
"""
    start = time.perf_counter()
    err = assert_fails_at(spec, "GEO520")
    assert time.perf_counter() - start < 5
    assert "after `repeat 1000000000` needs 1,000,000,001 IR nodes" in str(err)
    assert "over the budget of 20,000 IR nodes" in str(err) and "--max-nodes" in str(err)


def test_blocks_that_double_at_each_level_are_refused_at_the_node_limit():
    levels = [f"block f{i}(x: scalar) -> scalar {{\n    return f{i - 1}(f{i - 1}(x))\n}}\n"
              for i in range(1, 40)]  # fmt: skip
    spec = (
        "block f0(x: scalar) -> scalar {\n    return x + x\n}\n"
        + "".join(levels)
        + _MODEL.replace("f(x)", "f39(x)")
    )
    start = time.perf_counter()
    with pytest.raises(GeoError) as info:
        frontend(spec, budget=Budget(max_nodes=500))
    assert time.perf_counter() - start < 5
    assert info.value.diagnostics[0].code == "GEO520"
    assert "needs 501 IR nodes, over the budget of 500 IR nodes" in str(info.value)


# --- irreps: their degree is sized before a rule loops over it ------------------------------------


@pytest.mark.parametrize("spec", ["nequip", "escn"])
def test_a_huge_lmax_is_refused_at_the_spherical_harmonics_in_a_moment(spec):
    """``-p lmax=10**9`` built 10**9 terms in the typing rule (it hung); sized first now."""
    start = time.perf_counter()
    with pytest.raises(GeoError) as info:
        frontend(spec, {"lmax": 10**9})
    first = info.value.diagnostics[0]
    assert first.code == "GEO520" and "spherical harmonics up to lmax=1000000000" in first.message
    assert time.perf_counter() - start < 10
    assert len(frontend(spec, {"lmax": 6})) > 0  # a realistic degree fits the default


def test_a_huge_declared_irrep_is_refused_where_it_is_written():
    spec = """model M() {
    symmetry O(3)
    input x: @2 x 1000000000e
    output y: 2 x 0e = norm(x)
}
"""
    err = assert_fails_at(spec, "GEO520")
    assert "the irrep `1000000000e` needs 2,000,000,001 dimensions" in str(err)


def test_an_irrep_result_over_a_lowered_budget_is_refused_at_the_call():
    spec = """model M() {
    symmetry O(3)
    input v: vector
    output sh: 0e + 1o + 2e + 3o = @spherical_harmonics(v, lmax=3)
}
"""
    with using(Budget(max_dim=9)):
        err = assert_fails_at(spec, "GEO520")
    assert "lmax=3 needs 16 dimensions, over the budget of 9" in str(err)
    with using(Budget(max_dim=16)):
        frontend(spec.replace("@", ""))

"""Specs that were rejected although they are equivariant (issue 12): representation equality by
the group's action (`0e` is `scalar`, `1o` is `vector`, `1e` is `pseudovector` under O(3)), `act`
with a linear function, `max` where the group only permutes channels, and `linear` out of the
reducible `sym(n)`. Each is compiled, given random parameters, and moved by group elements
written here (not the checker's code) in float64; each non-equivariant neighbour stays rejected
with a true message."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from helpers import assert_fails_at, randomised

from geoc.groups import Group
from geoc.o3 import irrep_matrix
from geoc.ops.solver_ops import linear_pair
from geoc.types import FeatureType

Tensor = torch.Tensor
Move = Callable[[str, Tensor], Tensor]


def model(group: str, lines: str, domain: str = "") -> str:
    where = f"    domain {domain}\n" if domain else ""
    return f"model M() {{\n    symmetry {group}\n{where}{lines}}}\n"


def orthogonal(rng: np.random.Generator, reflect: bool) -> Tensor:
    """A Haar rotation of R^3, times -1 (a reflection) when ``reflect``."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    q = q if np.linalg.det(q) > 0 else -q
    return torch.as_tensor(-q if reflect else q)


def o3_move(q: Tensor) -> dict[str, Callable[[Tensor], Tensor]]:
    """How ``q`` moves one copy of each O(3) atom (channels last, copy-major)."""
    det = torch.linalg.det(q)

    def copies(x: Tensor, dim: int, mat: Tensor) -> Tensor:
        return (x.reshape(*x.shape[:-1], -1, dim) @ mat.T).reshape(x.shape)

    return {
        "scalar": lambda x: x,
        "vector": lambda x: copies(x, 3, q),
        "pseudovector": lambda x: copies(x, 3, det * q),
        "pseudoscalar": lambda x: det * x,
        "sym": lambda x: copies(x, 9, torch.kron(q, q)),
    }


def assert_o3_equivariant(
    text: str, inputs: dict[str, tuple[str, Tensor]], outputs: dict[str, str]
) -> None:
    """Outputs of moved inputs equal the moved outputs, for rotations and reflections, with
    random parameters; and the outputs are not all zero (the test could fail)."""
    module = randomised(text)
    rng = np.random.default_rng(1)
    plain = module(**{name: x for name, (_, x) in inputs.items()})
    assert any(plain[name].abs().max() > 1e-3 for name in outputs)
    for reflect in (False, True, True):
        move = o3_move(orthogonal(rng, reflect))
        moved = module(**{name: move[kind](x) for name, (kind, x) in inputs.items()})
        for name, kind in outputs.items():
            torch.testing.assert_close(moved[name], move[kind](plain[name]), rtol=1e-10, atol=1e-10)


def randn(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# Named atoms are the irreps they denote


def test_a_0e_scale_times_a_vector_is_equivariant() -> None:
    text = model(
        "O(3)",
        "    input h: 4 x scalar\n    input v: vector\n    output y: vector = linear(h, 0e) * v\n",
    )
    inputs = {"h": ("scalar", randn(4)), "v": ("vector", randn(3, seed=1))}
    assert_o3_equivariant(text, inputs, {"y": "vector"})


def test_dot_of_a_pseudovector_and_a_1e_is_invariant() -> None:
    text = model(
        "O(3)",
        "    input p: pseudovector\n    input q: 1e\n    input v: 1o\n"
        "    output s: scalar = dot(p, q)\n    output t: pseudoscalar = dot(v, q)\n",
    )
    inputs = {
        "p": ("pseudovector", randn(3)),
        "q": ("pseudovector", randn(3, seed=1)),
        "v": ("vector", randn(3, seed=2)),
    }
    assert_o3_equivariant(text, inputs, {"s": "scalar", "t": "pseudoscalar"})


def test_a_vector_plus_a_linear_map_to_1o_is_a_vector() -> None:
    text = model(
        "E(3)",
        "    input v: 2 x vector\n    input w: 1e\n"
        "    output y: 2 x vector = v + linear(concat(v, w), 2x1o)\n"
        "    output z: pseudovector = w + linear(w, 1e)\n",
    )
    inputs = {"v": ("vector", randn(6)), "w": ("pseudovector", randn(3, seed=1))}
    assert_o3_equivariant(text, inputs, {"y": "vector", "z": "pseudovector"})


def test_two_vectors_of_o1_multiply_to_an_invariant() -> None:
    """On R^1 a vector is the sign representation: the product of two is invariant."""
    text = model(
        "O(1)",
        "    input v: vector\n    input w: vector\n    output y: pseudovector = v * w\n"
        "    output s: scalar = dot(v, w)\n",
    )
    module = randomised(text)
    v, w = randn(1), randn(1, seed=1)
    plain, flipped = module(v=v, w=w), module(v=-v, w=-w)
    for name in ("y", "s"):
        assert plain[name].abs().max() > 1e-3
        torch.testing.assert_close(flipped[name], plain[name], rtol=1e-12, atol=1e-12)


REJECTED = [
    # a pseudovector is not a vector under O(3): the sum would not be equivariant
    ("O(3)", "    input v: vector\n    y = v + @linear(v, 1e)\n", "GEO307"),
    # scalars have no equivariant map onto a pseudoscalar
    ("O(3)", "    input h: 2 x scalar\n    y = linear(@h, 0o)\n", "GEO403"),
    # 3 x 0e is three scalars, not one vector: each side transforms
    ("O(3)", "    input v: vector\n    y = v * @v\n", "GEO407"),
    # an odd activation commutes with signs, not with rotations
    ("O(3)", "    input v: vector\n    y = act(@v, tanh)\n", "GEO402"),
    ("O(3)", "    input v: vector\n    y = act(@v, relu)\n", "GEO402"),
]


@pytest.mark.parametrize(("group", "body", "code"), REJECTED)
def test_non_equivariant_neighbours_stay_rejected(group: str, body: str, code: str) -> None:
    assert_fails_at(model(group, body), code)


def test_a_pseudoscalar_times_a_tensor_is_a_diagnostic() -> None:
    """tensor(2) has no pseudo twin to name: a diagnostic with a help line, not a crash."""
    text = model("O(3)", "    input t: tensor(2)\n    input p: pseudoscalar\n    y = @p * t\n")
    err = assert_fails_at(text, "GEO300")
    assert "`tensor(2)`" in err.diagnostics[0].message and err.diagnostics[0].help


# ---------------------------------------------------------------------------------------------
# act with a linear function; max where the group permutes channels


def test_act_identity_is_equivariant_on_any_value() -> None:
    text = model(
        "O(3)",
        "    input v: 2 x vector + pseudovector\n"
        "    output y: 2 x vector + pseudovector = act(v, identity)\n",
    )
    module = randomised(text)
    v = randn(9)
    torch.testing.assert_close(module(v=v)["y"], v)


@pytest.mark.parametrize(
    ("group", "moves"),
    [("C(4)", [((0, -1), (1, 0))]), ("D(4)", [((0, -1), (1, 0)), ((1, 0), (0, -1))])],
)
def test_odd_activations_commute_with_quarter_turns_and_flips(
    group: str, moves: list[tuple[tuple[int, int], ...]]
) -> None:
    """C(4) and D(4) move a vector of R^2 by signed permutations: tanh and sin commute."""
    text = model(
        group,
        "    input v: 2 x vector\n"
        "    output y: 2 x vector = linear(act(linear(v, 2 x vector), tanh), 2 x vector)\n"
        "    output z: vector = act(linear(v, vector), sin)\n",
    )
    module = randomised(text)
    v = randn(4)
    plain = module(v=v)
    assert plain["y"].abs().max() > 1e-3
    for move in moves:
        g = torch.tensor(move, dtype=torch.float64)
        moved = module(v=(v.reshape(2, 2) @ g.T).reshape(4))
        for name in ("y", "z"):
            expected = (plain[name].reshape(-1, 2) @ g.T).reshape(-1)
            torch.testing.assert_close(moved[name], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("group", ["C(3)", "C(8)"])
def test_odd_activations_do_not_commute_with_other_turns(group: str) -> None:
    err = assert_fails_at(model(group, "    input v: vector\n    y = act(@v, tanh)\n"), "GEO402")
    assert f"`tanh` applied pointwise to `vector` breaks {group}" in str(err)


def test_max_of_vectors_under_s3_commutes_with_permutations() -> None:
    """S(3) permutes each vector's coordinates (and S(set) the elements): the componentwise max
    over the set commutes with both."""
    text = model(
        "S(3) x S(set)",
        "    input v: 2 x vector over set\n"
        "    output y: 2 x vector = linear(max(linear(v, 2 x vector), over=set), 2 x vector)\n",
        "set(set)",
    )
    module = randomised(text)
    v = randn(5, 6)
    plain = module(v=v)["y"]
    assert plain.abs().max() > 1e-3
    rng = np.random.default_rng(2)
    for _ in range(3):
        coords, elements = rng.permutation(3), rng.permutation(5)
        moved = v[elements].reshape(5, 2, 3)[:, :, coords].reshape(5, 6)
        expected = plain.reshape(2, 3)[:, coords].reshape(6)
        torch.testing.assert_close(module(v=moved)["y"], expected, rtol=1e-12, atol=1e-12)


def test_max_of_rotated_vectors_stays_rejected() -> None:
    text = model(
        "O(3) x S(set)", "    input v: vector over set\n    y = max(@v, over=set)\n", "set(set)"
    )
    err = assert_fails_at(text, "GEO405")
    assert "componentwise `max` of `vector` is not equivariant under O(3)" in str(err)


# ---------------------------------------------------------------------------------------------
# linear out of the reducible sym(n): sym(3) = 0e + 2e under O(3)


def spd(seed: int) -> Tensor:
    a = randn(3, 3, seed=seed)
    return (a @ a.T + 3 * torch.eye(3, dtype=torch.float64)).reshape(9)


def test_the_trace_of_a_logeig_is_a_linear_map_to_scalar() -> None:
    """`linear(logeig(x), scalar)` is invariant and a multiple of tr(log X) = log det X, plus a
    bias."""
    text = model("O(3)", "    input x: spd(3)\n    output y: scalar = linear(logeig(x), scalar)\n")
    assert_o3_equivariant(text, {"x": ("sym", spd(0))}, {"y": "scalar"})
    module = randomised(text)
    ys = [module(x=spd(s))["y"] for s in range(3)]
    logdets = [torch.logdet(spd(s).reshape(3, 3)) for s in range(3)]
    slope = (ys[1] - ys[0]) / (logdets[1] - logdets[0])
    torch.testing.assert_close(ys[2] - ys[0], slope * (logdets[2] - logdets[0]))


def test_linear_maps_of_sym_are_equivariant_and_stay_symmetric() -> None:
    text = model(
        "O(3)",
        "    input s: 2 x sym(3)\n    input h: 2 x scalar\n"
        "    output y: sym(3) = linear(concat(s, h), sym(3))\n"
        "    output t: 2 x scalar = linear(s, 2 x scalar)\n",
    )
    s = torch.cat([spd(0), spd(1)])
    assert_o3_equivariant(
        text, {"s": ("sym", s), "h": ("scalar", randn(2))}, {"y": "sym", "t": "scalar"}
    )
    y = randomised(text)(s=s, h=randn(2))["y"].reshape(3, 3)
    torch.testing.assert_close(y, y.T)


def test_sym_outputs_stay_symmetric_without_rotations() -> None:
    text = model("trivial", "    input h: 4 x scalar\n    output y: sym(3) = linear(h, sym(3))\n")
    y = randomised(text)(h=randn(4))["y"].reshape(3, 3)
    assert y.abs().max() > 1e-3
    torch.testing.assert_close(y, y.T)


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
def test_no_linear_map_from_vectors_to_sym(group: str) -> None:
    """Vectors reach only the antisymmetric part of tensor(2) (under SO(3)): zero on sym(3)."""
    text = model(group, "    input v: vector\n    y = linear(@v, sym(3))\n")
    err = assert_fails_at(text, "GEO403")
    assert "irreducible parts are all zero" in err.diagnostics[0].message


PAIR_COUNTS = [
    # group, input atom, output atom, number of equivariant maps (the sum over common irreps
    # of the multiplicities' product times dim End): sym(3) = 0e + 2e, tensor(2) = 0e + 1e + 2e
    ("O(3)", "sym(3)", "scalar", 1),
    ("O(3)", "sym(3)", "sym(3)", 2),
    ("O(3)", "sym(3)", "2e", 1),
    ("O(3)", "2e", "sym(3)", 1),
    ("O(3)", "sym(3)", "1e", 0),
    ("O(3)", "sym(3)", "vector", 0),
    ("O(3)", "tensor(2)", "1e", 1),
    ("O(3)", "tensor(2)", "2o", 0),
    ("O(3)", "tensor(2)", "sym(3)", 2),
    ("O(3)", "tensor(2)", "tensor(2)", 3),
    ("SO(3)", "tensor(2)", "vector", 1),
    ("SO(3)", "sym(3)", "vector", 0),
    ("SO(3)", "2o", "tensor(2)", 1),
    ("O(2)", "sym(2)", "sym(2)", 2),
    ("SO(2)", "sym(2)", "sym(2)", 3),  # the traceless part is complex type: End = C
    ("trivial", "sym(3)", "scalar", 6),
    ("trivial", "scalar", "sym(3)", 6),
]


@pytest.mark.parametrize(("group", "atom_in", "atom_out", "count"), PAIR_COUNTS)
def test_linear_maps_between_reducible_atoms_count_their_irreps(
    group: str, atom_in: str, atom_out: str, count: int
) -> None:
    g = Group.parse(group).with_default_dim(3)
    a, b = (FeatureType.parse(t).atoms[0] for t in (atom_in, atom_out))
    assert linear_pair(g, a, b).size == count


def test_linear_from_sym_to_irreps_is_equivariant() -> None:
    """`sym(3)` to `0e + 2e` and `tensor(2)` to `1e` (basis solved from sampled rotations)."""
    text = model(
        "O(3)",
        "    input x: spd(3)\n    input t: tensor(2)\n"
        "    output y: 0e + 2e = linear(logeig(x), 0e + 2e)\n"
        "    output z: 1e = linear(t, 1e)\n",
    )
    module = randomised(text)
    x, t = spd(0), randn(9, seed=3)
    plain = module(x=x, t=t)
    rng = np.random.default_rng(4)
    for reflect in (False, True):
        q = orthogonal(rng, reflect)
        moved = module(x=o3_move(q)["sym"](x), t=o3_move(q)["sym"](t))
        d2 = torch.as_tensor(irrep_matrix(2, 1, q.numpy()))
        expected_y = torch.cat([plain["y"][:1], d2 @ plain["y"][1:]])
        torch.testing.assert_close(moved["y"], expected_y, rtol=1e-10, atol=1e-10)
        expected_z = o3_move(q)["pseudovector"](plain["z"])
        torch.testing.assert_close(moved["z"], expected_z, rtol=1e-10, atol=1e-10)

"""Integer labels (`index(n) over AXIS`) and `embed`: the typing rule and each error (code and
caret), numeric agreement with `torch.nn.functional.embedding` and the runtime checks of labels,
and invariance in float64 with random parameters (permutations of nodes, E(3) on positions),
batches and an empty set of nodes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails_at, elaborated

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.common.validate_kernels import InputError
from geoc.backends.torch_fx.verify import check, draw_sample
from geoc.backends.torch_fx.verify.actions import AxisMap, transform
from geoc.groups import GroupElement
from geoc.ir import Graph
from geoc.pipeline import check_equivariance, frontend
from geoc.types import FeatureType

E3 = "E(3) x S(nodes)"
CLOUD = "pointcloud(nodes, dim=3, edges=radius(2.0))"


def spec(
    body: str,
    labels: str = "index(species) over nodes",
    group: str = E3,
    domain: str = CLOUD,
    tail: str = "    output e: scalar = sum(linear(h, 0e), over=nodes)\n",
) -> str:
    """A model whose input `z` has the type ``labels``, then ``body`` and ``tail``."""
    return (
        "model M(species: int = 4, channels: int = 8) {\n"
        f"    symmetry {group}\n"
        f"    domain {domain}\n"
        f"    input z: {labels}\n"
        "    input pos: point(3) over nodes\n"
        f"{body}\n{tail}}}\n"
    )


def type_of(text: str, value: str = "h") -> str:
    graph = elaborated(text)  # dead values kept
    return str(next(n for n in graph.nodes if n.id == value).out_types[0])


# ---------------------------------------------------------------------------------------------
# Typing


@pytest.mark.parametrize(
    ("out", "group", "expected"),
    [
        ("channels x 0e", E3, "8x0e over nodes"),
        ("3 x scalar", E3, "3 x scalar over nodes"),
        ("2 x scalar over nodes", E3, "2 x scalar over nodes"),
        # without reflections a pseudoscalar is invariant: a table may hold it
        ("pseudoscalar", "SE(3) x S(nodes)", "pseudoscalar over nodes"),
    ],
)
def test_embed_gives_invariant_channels_on_the_labels_axis(
    out: str, group: str, expected: str
) -> None:
    assert type_of(spec(f"    h = embed(z, {out})", group=group, tail="")) == expected


def test_labels_type_and_round_trip() -> None:
    ftype = FeatureType.parse("index(7) over nodes")
    assert (ftype.classes, ftype.has_labels, str(ftype)) == (7, True, "index(7) over nodes")
    assert FeatureType.parse("3 x scalar over nodes").classes is None


def test_a_block_may_take_labels_and_embed_them() -> None:
    text = (
        "block species_features(z: index(4) over nodes, width: int = 8)"
        " -> width x scalar over nodes {\n"
        "    return embed(z, width x scalar)\n}\n"
    ) + spec("    h = species_features(z, width=5)", labels="index(4) over nodes")
    (node,) = [n for n in elaborated(text).nodes if n.op == "embed"]
    assert str(node.out_types[0]) == "5 x scalar over nodes"


@pytest.mark.parametrize(
    "body",
    [
        "    h = linear(@z, channels x 0e)",
        "    h = @z + z",
        "    h = -@z",
        "    h = 2.0 * @z",
        "    h = norm(@z)",
        "    h = mlp(@z, [8])",
        "    h = act(@z, relu)",
        "    h = gate(@z)",
        "    h = concat(pos, @z)",
        "    h = sum(@z, over=nodes)",
        "    h = embed(@z[src], 4 x scalar)",
        "    h = linear(embed(z, 4 x scalar) * @z, 4 x scalar)",
    ],
)
def test_every_other_operator_refuses_labels(body: str) -> None:
    err = assert_fails_at(spec(body), "GEO360")
    assert "does not take integer labels" in err.render()


def test_the_refusal_shows_its_caret_and_help() -> None:
    err = assert_fails_at(spec("    h = linear(@z, channels x 0e)"), "GEO360")
    lines = err.render().splitlines()
    assert "6 |     h = linear(z, channels x 0e)" in lines
    assert any(line.strip() == "|                ^ index(4) over nodes" for line in lines), lines
    assert "embed(z, channels x scalar)" in err.render()


@pytest.mark.parametrize(
    ("labels", "body", "code"),
    [
        # embed's rule: labels in, invariant scalars out
        ("species x scalar over nodes", "    h = embed(@z, channels x 0e)", "GEO362"),
        ("index(species) over nodes", "    h = @embed(z, channels x 1o)", "GEO362"),
        ("index(species) over nodes", "    h = @embed(z, vector)", "GEO362"),
        ("index(species) over nodes", "    h = @embed(z, pseudoscalar)", "GEO362"),
        ("index(species) over nodes", "    h = @embed(z, point(3))", "GEO362"),
        ("index(species) over nodes", "    h = @embed(z, 4 x scalar over edges)", "GEO305"),
        ("index(species) over nodes", "    h = embed(z, @index(3))", "GEO361"),
        ("index(species) over nodes", "    h = linear(embed(z, 4 x 0e), @index(3))", "GEO361"),
        # labels are inputs of their own: one per element of one axis
        ("@index(species) + scalar over nodes", "    h = embed(z, 4 x 0e)", "GEO361"),
        ("@2 x index(species) over nodes", "    h = embed(z, 4 x 0e)", "GEO361"),
        ("@index(species)", "    h = embed(z, 4 x 0e)", "GEO361"),
        ("@index(0) over nodes", "    h = embed(z, 4 x 0e)", "GEO361"),
        ("index(species) over @pos", "    h = embed(z, 4 x 0e)", "GEO203"),
    ],
)
def test_embed_and_label_errors(labels: str, body: str, code: str) -> None:
    assert_fails_at(spec(body, labels=labels), code)


@pytest.mark.parametrize(
    "tail",
    [
        "    output y: @index(species) over nodes = z\n",
        "    output y: scalar over nodes = @z\n",
        "    output y: 4 x scalar over nodes = f(@z)\n",
    ],
)
def test_labels_never_leave_as_values(tail: str) -> None:
    """An output of labels, labels passed through as scalars, or into a block's float
    parameter: refused (GEO361, GEO306, GEO300), never a label read as a number."""
    block = "block f(h: 4 x scalar over nodes) -> 4 x scalar over nodes {\n    return h\n}\n"
    err = assert_fails_at(block + spec("", tail=tail), tail_code(tail))
    assert err.diagnostics[0].help


def tail_code(tail: str) -> str:
    return "GEO361" if "index" in tail else "GEO300" if "f(" in tail else "GEO306"


def test_labels_outside_an_axis_domain_are_refused() -> None:
    text = (
        "model M() {\n    symmetry T(2)\n    domain torus(8, 8)\n"
        "    input z: @index(3) over torus\n"
        "    output u: 2 x scalar over torus = embed(z, 2 x scalar)\n}\n"
    )
    assert_fails_at(text, "GEO310")


# ---------------------------------------------------------------------------------------------
# Numeric agreement with torch.nn.functional.embedding, and the runtime checks


EMBED_ONLY = spec(
    "    h = embed(z, channels x 0e)",
    tail="    output y: channels x 0e over nodes = h\n",
)


@pytest.fixture(scope="module")
def embedder() -> torch.nn.Module:
    return geoc_compile(EMBED_ONLY, seed=5, dtype=torch.float64)


@pytest.mark.parametrize("layout", ["[N]", "[N, 1]"])
def test_embed_equals_torch_embedding(embedder: torch.nn.Module, layout: str) -> None:
    z = torch.tensor([3, 0, 1, 1, 2, 3, 0])
    pos = torch.randn(7, 3, dtype=torch.float64)
    given = z if layout == "[N]" else z[:, None]
    for dtype in (torch.long, torch.int32):
        out = embedder(z=given.to(dtype), pos=pos)["y"]
        expected = F.embedding(z, embedder.state_dict()["h.weight"])
        assert out.shape == (7, 8) and torch.equal(out, expected)


def test_embed_over_given_edges_equals_torch_embedding() -> None:
    """Bond types on the edges of a graph: labels over any axis of the domain."""
    text = (
        "model M() {\n    symmetry S(nodes)\n    domain graph(nodes)\n"
        "    input h: 2 x scalar over nodes\n    input bond: index(3) over edges\n"
        "    output y: 4 x scalar over edges = embed(bond, 4 x scalar)\n}\n"
    )
    model = geoc_compile(text, dtype=torch.float64)
    bond = torch.tensor([2, 0, 1, 2])
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    out = model(h=torch.randn(4, 2, dtype=torch.float64), bond=bond, edge_index=edge_index)
    assert torch.equal(out["y"], F.embedding(bond, model.state_dict()["y.weight"]))


def refused(model: torch.nn.Module, code: str, text: str, **inputs: object) -> None:
    with pytest.raises(InputError) as err:
        model(**inputs)
    assert (err.value.code, err.value.input) == (code, "z"), str(err.value)
    assert text in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("z", "code", "text"),
    [
        (torch.tensor([0.0, 1.0, 2.0]), "GEO613", "expected integer labels"),
        (torch.tensor([True, False, True]), "GEO613", "expected integer labels"),
        (torch.tensor([0, 4, 1]), "GEO619", "labels must lie in [0, 4)"),
        (torch.tensor([0, -1, 1]), "GEO619", "labels must lie in [0, 4)"),
        (F.one_hot(torch.tensor([0, 1, 2]), 4).double(), "GEO611", "z.argmax(-1)"),
        (torch.zeros(3, 2, dtype=torch.long), "GEO611", "expected [N] or [N, 1]"),
        ([0, 1, 2], "GEO611", "expected a tensor [N] or [N, 1]"),
    ],
)
def test_bad_labels_are_refused(embedder: torch.nn.Module, z: object, code: str, text: str) -> None:
    refused(embedder, code, text, z=z, pos=torch.randn(3, 3, dtype=torch.float64))


def test_labels_and_positions_agree_on_the_node_count(embedder: torch.nn.Module) -> None:
    pos = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(InputError) as err:
        embedder(z=torch.tensor([0, 1, 2]), pos=pos)
    assert err.value.code == "GEO612" and "3" in str(err.value)


@pytest.mark.slow
def test_range_check_stays_in_an_exported_graph(embedder: torch.nn.Module) -> None:
    """The value check is a `torch._assert_async` when traced: the exported program keeps it."""
    pos = torch.randn(5, 3, dtype=torch.float64)
    good = {"z": torch.tensor([0, 1, 2, 3, 0]), "pos": pos}
    exported = torch.export.export(embedder, (), good).module()
    assert torch.equal(exported(**good)["y"], embedder(**good)["y"])
    with pytest.raises(RuntimeError, match="GEO619"):
        exported(z=torch.tensor([0, 1, 9, 3, 0]), pos=pos)


# ---------------------------------------------------------------------------------------------
# Invariance: permutations move labels with their nodes, E(3) leaves them alone


ATOMS = spec(
    "    h = embed(z, channels x 0e)\n"
    "    r = pos[dst] - pos[src]\n"
    "    sh = spherical_harmonics(r, lmax=1)\n"
    "    w = radial_basis(norm(r), n=4, cutoff=2.0)\n"
    "    h = gate(tp_conv(h, sh, w, out=channels x 0e + channels x 1o, hidden=8))",
    tail="    output e: scalar = sum(linear(h, 0e), over=nodes)\n"
    "    output f: channels x 0e over nodes = embed(z, channels x 0e)\n"
    "    output v: channels x 1o over nodes = linear(h, channels x 1o)\n",
)


@pytest.mark.slow
@pytest.mark.parametrize("graphs", [1, 3])
def test_labels_pass_check_with_random_parameters(graphs: int) -> None:
    report = check(ATOMS, graphs=graphs, trials=4, nodes=5, every_value=True)
    assert report.passed, report.render()
    assert report.random_trials and report.max_error < 1e-10
    rendered = report.render()
    assert "rotation+reflection" in rendered and "permutation" in rendered


def test_the_checker_draws_labels_and_moves_them_with_their_nodes() -> None:
    ir = frontend(ATOMS)
    rng = np.random.default_rng(3)
    sample = draw_sample(ir, rng, nodes=6, graphs=2, dtype=torch.float64)
    z = sample.inputs["z"]
    assert z.dtype == torch.long and z.ndim == 1 and ((z >= 0) & (z < 4)).all()
    perm = torch.randperm(z.shape[0])
    element = GroupElement(label="g", rotation=np.eye(3))
    moved = transform(z, ir.inputs["z"].type, ir.group, element, {"nodes": AxisMap(perm)})
    assert torch.equal(moved, z[perm])


def test_batches_empty_sets_and_one_by_one_agree() -> None:
    """A batch of graphs gives each graph's energy as run alone (1e-12), and no atoms at all
    give zero energy and an empty embedding."""
    model = geoc_compile(ATOMS, seed=2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    sizes = [4, 1, 6]
    z = torch.randint(4, (sum(sizes),), generator=gen)
    pos = torch.randn(sum(sizes), 3, generator=gen, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    together = model(z=z, pos=pos, batch=batch, num_graphs=3)["e"]
    alone = torch.cat([model(z=z[batch == g], pos=pos[batch == g])["e"] for g in range(3)])
    assert torch.allclose(together.reshape(-1), alone, rtol=0, atol=1e-12)
    empty = model(z=torch.zeros(0, dtype=torch.long), pos=torch.zeros(0, 3, dtype=torch.float64))
    assert torch.equal(empty["e"], torch.zeros(1, dtype=torch.float64))
    assert empty["f"].shape == (0, 8)


def test_rotating_and_permuting_atoms_leaves_the_embedding_and_energy_alone() -> None:
    """Direct float64 check, beside `geoc check`: g = (Q, t, permutation)."""
    model = geoc_compile(ATOMS, seed=7, dtype=torch.float64)
    gen = torch.Generator().manual_seed(8)
    z = torch.randint(4, (7,), generator=gen)
    pos = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    perm = torch.randperm(7, generator=gen)
    before = model(z=z, pos=pos)
    after = model(z=z[perm], pos=(pos @ q.T + 0.3)[perm])
    assert torch.allclose(after["e"], before["e"], rtol=0, atol=1e-12)
    assert torch.equal(after["f"], before["f"][perm])


JETS = """model M() {
    symmetry Lorentz(3) x S(particles)
    domain set(particles)
    input p: vector over particles
    input kind: index(5) over particles
    h = concat(mdot(p, p), embed(kind, 4 x scalar))
    output y: scalar = sum(mlp(h, [8, 1]), over=particles)
}
"""


def test_labels_under_a_matrix_group_pass_check() -> None:
    """Particle types next to four-momenta: the solver's groups leave labels alone too."""
    report = check(JETS, graphs=1, trials=3, nodes=6)
    assert report.passed and report.random_trials, report.render()


def test_embed_into_a_matrix_group_vector_is_refused() -> None:
    text = JETS.replace(
        "h = concat(mdot(p, p), embed(kind, 4 x scalar))", "h = @embed(kind, vector)"
    )
    assert_fails_at(text, "GEO362")


def test_labels_in_a_graph_typed_elsewhere_are_a_static_violation() -> None:
    """A graph read from JSON is not re-typed: the contracts refuse labels there too."""
    text = spec(
        "    input f: 4 x scalar over nodes\n    h = linear(f, 4 x 0e)",
        tail="    output y: 4x0e over nodes = h\n",
    )
    graph = frontend(text)
    assert check_equivariance(graph) == []
    doc = json.loads(graph.to_json())
    (node,) = [n for n in doc["nodes"] if n["op"] == "linear"]
    node["inputs"][0]["node"] = "input.z"
    problems = check_equivariance(Graph.from_json(json.dumps(doc)))
    assert [p.code for p in problems] == ["GEO360"]

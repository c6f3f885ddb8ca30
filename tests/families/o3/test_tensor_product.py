# ruff: noqa: E741 - `l` is the degree of an irrep, as in every text on the subject
"""The O(3) tensor product (``tp_plan`` + ``runtime_tp``): e3nn's numbers, O(3) equivariance,
gradients, per-sample weights, and tracing under ``torch.compile`` / ``torch.export``.

e3nn is the reference: ``full`` is ``FullyConnectedTensorProduct`` with its defaults and
``channelwise`` is ``TensorProduct`` with a ``"uvu"`` instruction for every allowed path whose
output multiplicity equals ``mul1``. The e3nn tests skip without the test extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import cases

torch = pytest.importorskip("torch")

from geoc.backends.torch_fx.o3.tp_kernels import tensor_product  # noqa: E402 - after the skip
from geoc.backends.torch_fx.o3.tp_plan import TPPlan, plan_tensor_product  # noqa: E402
from geoc.groups import random_rotation  # noqa: E402
from geoc.o3 import MulIrrep, allowed_paths, irrep_matrix  # noqa: E402

HERE = Path(__file__).parent

TOL64 = 1e-10
TOL32 = 1e-5
MODES = ("full", "channelwise")

#: (in1, in2, out): odd parities, muls > 1 on both sides, zero muls, repeated irreps, l <= 3.
CASES = cases(HERE / "test_tensor_product.cases", "cases")


def parse(text: str) -> list[MulIrrep]:
    """``"2x1o+0e"`` -> ``[(2, 1, -1), (1, 0, 1)]``."""
    terms = []
    for term in text.split("+"):
        mul, _, irrep = term.strip().rpartition("x")
        terms.append((int(mul or 1), int(irrep[:-1]), 1 if irrep[-1] == "e" else -1))
    return terms


def run(plan: TPPlan, x1, x2, weight, dtype=torch.float64):
    buffers = plan.buffers(dtype)
    return tensor_product(x1, x2, weight, buffers["cg"], buffers["weight_index"], plan.meta())


def inputs(plan: TPPlan, batch: int, dtype=torch.float64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x1 = torch.randn(batch, plan.dim1, generator=gen, dtype=dtype)
    x2 = torch.randn(batch, plan.dim2, generator=gen, dtype=dtype)
    return x1, x2


# --- e3nn -------------------------------------------------------------------------------------


def e3nn_tp(in1: str, in2: str, out: str, mode: str, shared: bool = True):
    """e3nn's module for ``mode``, in the default dtype."""
    o3 = pytest.importorskip("e3nn.o3")
    weights = {} if shared else {"shared_weights": False, "internal_weights": False}
    if mode == "full":
        return o3.FullyConnectedTensorProduct(in1, in2, out, **weights)
    i1, i2, io = o3.Irreps(in1), o3.Irreps(in2), o3.Irreps(out)
    instructions = [
        (a, b, c, "uvu", True)
        for a, b, c in allowed_paths(parse(in1), parse(in2), parse(out))
        if io[c].mul == i1[a].mul
    ]
    return o3.TensorProduct(i1, i2, io, instructions, **weights)


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_paths_layout_and_normalisation_are_e3nns(case, mode):
    ref = e3nn_tp(*case, mode)
    plan = plan_tensor_product(*(parse(t) for t in case), mode)
    assert plan.weight_numel == ref.weight_numel
    assert [(p.i1, p.i2, p.i_out) for p in plan.paths] == [
        (i.i_in1, i.i_in2, i.i_out) for i in ref.instructions
    ]
    assert [p.weight_shape for p in plan.paths] == [tuple(i.path_shape) for i in ref.instructions]
    assert np.allclose(
        [p.coefficient for p in plan.paths], [i.path_weight for i in ref.instructions]
    )
    assert (plan.dim1, plan.dim2, plan.out_dim) == (
        ref.irreps_in1.dim,
        ref.irreps_in2.dim,
        ref.irreps_out.dim,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_equals_e3nn_with_its_weights(case, mode, float64):
    ref = e3nn_tp(*case, mode)
    plan = plan_tensor_product(*(parse(t) for t in case), mode)
    x1, x2 = inputs(plan, 7)
    got = run(plan, x1, x2, ref.weight.detach())
    assert (got - ref(x1, x2)).abs().max() < TOL64


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES[:3])
def test_per_sample_weights_equal_e3nn(case, mode, float64):
    ref = e3nn_tp(*case, mode, shared=False)
    plan = plan_tensor_product(*(parse(t) for t in case), mode)
    x1, x2 = inputs(plan, 6)
    weight = torch.randn(6, plan.weight_numel, generator=torch.Generator().manual_seed(1))
    assert (run(plan, x1, x2, weight) - ref(x1, x2, weight)).abs().max() < TOL64


def test_explicit_paths_follow_e3nns_instructions(float64):
    o3 = pytest.importorskip("e3nn.o3")
    in1, in2, out = "3x0e+3x1o+3x2e", "0e+1o+2e", "3x0e+3x1o+3x2e"
    chosen = [(2, 2, 0), (0, 1, 1), (1, 1, 2), (1, 0, 1)]  # a subset, out of e3nn's order
    ref = o3.TensorProduct(in1, in2, out, [(*t, "uvu", True) for t in chosen])
    plan = plan_tensor_product(parse(in1), parse(in2), parse(out), "channelwise", paths=chosen)
    assert [(p.i1, p.i2, p.i_out) for p in plan.paths] == chosen
    x1, x2 = inputs(plan, 4)
    assert (run(plan, x1, x2, ref.weight.detach()) - ref(x1, x2)).abs().max() < TOL64


def test_explicit_paths_must_be_allowed():
    with pytest.raises(ValueError, match="not allowed"):
        plan_tensor_product(parse("2x0e"), parse("1o"), parse("2x0e+2x1o"), paths=[(0, 0, 0)])
    with pytest.raises(ValueError, match="mul_out = mul1"):
        plan_tensor_product(parse("2x0e"), parse("1o"), parse("3x1o"), "channelwise", [(0, 0, 0)])


@pytest.mark.parametrize("mode", MODES)
def test_float32_equals_e3nn(mode):
    case = ("32x0e+32x1o+32x2e", "0e+1o+2e", "32x0e+32x1o+32x2e")
    ref = e3nn_tp(*case, mode)
    plan = plan_tensor_product(*(parse(t) for t in case), mode)
    x1, x2 = inputs(plan, 64, torch.float32)
    got = run(plan, x1, x2, ref.weight.detach(), torch.float32)
    assert (got - ref(x1, x2)).abs().max() < TOL32


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES[1:3])
def test_gradients_equal_e3nns(case, mode, shared, float64):
    ref = e3nn_tp(*case, mode, shared=shared)
    plan = plan_tensor_product(*(parse(t) for t in case), mode)
    x1, x2 = inputs(plan, 5)
    weight = ref.weight.detach() if shared else torch.randn(5, plan.weight_numel)
    cotangent = torch.randn(5, plan.out_dim)

    def grads(fn):
        args = [t.clone().requires_grad_() for t in (x1, x2, weight)]
        (fn(*args) * cotangent).sum().backward()
        return [a.grad for a in args]

    ours = grads(lambda a, b, w: run(plan, a, b, w))
    theirs = grads(lambda a, b, w: ref(a, b, w))
    for g, h in zip(ours, theirs, strict=True):
        assert (g - h).abs().max() < TOL64


# --- equivariance and structure (no e3nn) -----------------------------------------------------


def representation(irreps: list[MulIrrep], rotation: np.ndarray) -> torch.Tensor:
    """The block-diagonal ``D(R)`` of an irreps list in e3nn's layout."""
    blocks = [irrep_matrix(l, p, rotation) for mul, l, p in irreps for _ in range(mul)]
    size = sum(len(b) for b in blocks)
    out, at = np.zeros((size, size)), 0
    for block in blocks:
        out[at : at + len(block), at : at + len(block)] = block
        at += len(block)
    return torch.from_numpy(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reflect", [False, True])
def test_equivariant_under_o3(case, mode, reflect):
    irreps = [parse(t) for t in case]
    plan = plan_tensor_product(*irreps, mode)
    rng = np.random.default_rng(len(case[0]) + reflect)
    x1, x2 = inputs(plan, 4)
    weight = torch.randn(plan.weight_numel, generator=torch.Generator().manual_seed(2)).double()
    for _ in range(2):
        rotation = random_rotation(rng, 3, reflect)
        d1, d2, d_out = (representation(i, rotation) for i in irreps)
        rotated = run(plan, x1 @ d1.T, x2 @ d2.T, weight)
        assert (rotated - run(plan, x1, x2, weight) @ d_out.T).abs().max() < TOL64


def test_per_sample_weights_are_shared_weights_row_by_row():
    plan = plan_tensor_product(parse("2x0e+2x1o"), parse("0e+1o"), parse("2x0e+2x1o+2x1e"))
    x1, x2 = inputs(plan, 3)
    weight = torch.randn(3, plan.weight_numel, dtype=torch.float64)
    rows = [run(plan, x1[i : i + 1], x2[i : i + 1], weight[i]) for i in range(3)]
    assert torch.allclose(run(plan, x1, x2, weight), torch.cat(rows), atol=TOL64)


def test_leading_dimensions_broadcast():
    plan = plan_tensor_product(parse("2x1o+1x0e"), parse("1x1o"), parse("2x0e+2x1e+1x1o"))
    x1 = torch.randn(3, 1, plan.dim1, dtype=torch.float64)
    x2 = torch.randn(1, 4, plan.dim2, dtype=torch.float64)
    weight = torch.randn(plan.weight_numel, dtype=torch.float64)
    got = run(plan, x1, x2, weight)
    assert got.shape == (3, 4, plan.out_dim)
    flat = run(
        plan, x1.expand(3, 4, -1).reshape(12, -1), x2.expand(3, 4, -1).reshape(12, -1), weight
    )
    assert torch.allclose(got.reshape(12, -1), flat, atol=TOL64)


def test_no_path_gives_zeros():
    plan = plan_tensor_product(parse("2x0e"), parse("1x0e"), parse("3x1o"))
    assert plan.paths == () and plan.weight_numel == 0
    x1, x2 = inputs(plan, 2)
    assert torch.equal(run(plan, x1, x2, torch.zeros(0, dtype=torch.float64)), torch.zeros(2, 9))


def test_output_irreps_without_paths_are_zero():
    plan = plan_tensor_product(parse("2x0e"), parse("1x1o"), parse("2x1o+3x2e"))
    x1, x2 = inputs(plan, 2)
    out = run(plan, x1, x2, torch.randn(plan.weight_numel, dtype=torch.float64))
    assert torch.equal(out[:, 6:], torch.zeros(2, 15, dtype=torch.float64))
    assert out[:, :6].abs().sum() > 0


def test_metadata_is_static_and_buffers_follow_dtype():
    plan = plan_tensor_product(parse("2x0e+2x1o"), parse("0e+1o"), parse("2x0e+2x1o"))

    def ints_only(value) -> bool:
        return all(map(ints_only, value)) if isinstance(value, tuple) else type(value) is int

    assert ints_only(plan.meta()) and hash(plan.meta())
    buffers = plan.buffers(torch.float64)
    assert buffers["cg"].dtype == torch.float64 and buffers["weight_index"].dtype == torch.long
    assert sorted(buffers["weight_index"].tolist()) == list(range(plan.weight_numel))


# --- tracing ----------------------------------------------------------------------------------


class _Module(torch.nn.Module):
    """How a lowering holds a plan: buffers, a weight parameter and the static metadata."""

    def __init__(self, plan: TPPlan):
        super().__init__()
        for name, value in plan.buffers().items():
            self.register_buffer(name, value)
        self.meta = plan.meta()
        self.weight = torch.nn.Parameter(torch.randn(plan.weight_numel))

    def forward(self, x1, x2):
        return tensor_product(x1, x2, self.weight, self.cg, self.weight_index, self.meta)


@pytest.mark.parametrize("mode", MODES)
def test_compiles_fullgraph(mode):
    plan = plan_tensor_product(*(parse(t) for t in CASES[1]), mode)
    module = _Module(plan)
    x1, x2 = inputs(plan, 5, torch.float32)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x1, x2), module(x1, x2), atol=TOL32)
    x1.requires_grad_()
    compiled(x1, x2).sum().backward()
    assert x1.grad is not None and module.weight.grad is not None


def test_exports_with_a_dynamic_batch():
    plan = plan_tensor_product(*(parse(t) for t in CASES[0]), "full")
    module = _Module(plan)
    batch = torch.export.Dim("batch")
    x1, x2 = inputs(plan, 5, torch.float32)
    program = torch.export.export(module, (x1, x2), dynamic_shapes=({0: batch}, {0: batch}))
    x1, x2 = inputs(plan, 9, torch.float32, seed=3)
    assert torch.allclose(program.module()(x1, x2), module(x1, x2), atol=TOL32)


# --- chunks of the batch (CPU) ----------------------------------------------------------------


@pytest.fixture
def one_thread():
    """Chunks are taken on one intra-op thread only."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_chunked_batch_equals_one_pass_with_second_derivatives(
    mode, shared, monkeypatch, one_thread
):
    """A batch run in chunks of 256 (3 here, the last one short) gives the one-pass values,
    gradients and second derivatives (NequIP's forces train through ``create_graph``)."""
    from geoc.backends.torch_fx.o3 import tp_kernels

    plan = plan_tensor_product(*(parse(t) for t in CASES[5]), mode)
    x1, x2 = inputs(plan, 600)
    gen = torch.Generator().manual_seed(4)
    shape = (plan.weight_numel,) if shared else (600, plan.weight_numel)
    weight = torch.randn(shape, generator=gen, dtype=torch.float64)
    cotangent = torch.randn(600, plan.out_dim, generator=gen, dtype=torch.float64)

    def derivatives(chunk_bytes: int) -> list[torch.Tensor]:
        monkeypatch.setattr(tp_kernels, "CHUNK_BYTES", chunk_bytes)
        args = [t.clone().requires_grad_() for t in (x1, x2, weight)]
        out = run(plan, *args)
        firsts = torch.autograd.grad((out * cotangent).sum(), args, create_graph=True)
        seconds = torch.autograd.grad(sum((g * g).sum() for g in firsts), args)
        return [out, *firsts, *seconds]

    whole, chunked = derivatives(1 << 40), derivatives(1)
    assert tp_kernels._chunk_size(x1, plan.meta()) == 256
    for a, b in zip(chunked, whole, strict=True):
        assert (a - b).abs().max() < TOL64


def test_only_a_large_batch_on_one_cpu_thread_is_chunked(one_thread):
    from geoc.backends.torch_fx.o3 import tp_kernels

    plan = plan_tensor_product(*(parse(t) for t in CASES[0]), "full")
    meta = plan.meta()
    assert 256 <= tp_kernels._chunk_size(torch.empty(10**5, plan.dim1), meta) < 10**5
    assert tp_kernels._chunk_size(torch.empty(10**5, plan.dim1, device="meta"), meta) is None
    torch.set_num_threads(2)
    assert tp_kernels._chunk_size(torch.empty(10**5, plan.dim1), meta) is None

"""The fuzzer's own group actions: random inputs and ``g·x`` written from the documented layouts
(DSL.md §5, docs/operators.md, docs/gcnn.md, docs/manifolds.md, docs/o3_conventions.md), not
from geoc's checker (``backends/torch_fx/verify``, ``backends/torch_fx/domains``).

* channels are last and copy-major (``m x atom``: the m copies one after the other);
* ``vector`` is the defining representation (orthogonal, Lorentz ``SO+(1, n)`` time first with
  ``diag(+1, -1, ...)``, symplectic with ``J = [[0, I], [-I, 0]]``); ``tensor(2)``, ``spd(n)``
  and ``sym(n)`` are row-major matrices moved by ``kron(g, g)``; O(3) irreps are e3nn's
  (``Irrep(l, p).D_from_matrix``, computed by e3nn itself); ``point(n)`` rotates and translates;
* ``multivector(p, q)`` by the outermorphism, O(p, q) elements per component
  (``group_actions_clifford``, from docs/clifford.md);
* nodes / set members are permuted inside each graph of a batch, ``edge_index`` relabelled;
* fields ``[batch, channels, *grid]`` are rolled (shifts, polar rotations by whole longitude
  steps) or turned about the grid origin (``C(4)`` / ``D(4)``: ``(g·f)(p) = f(g⁻¹ p mod n)``),
  ``regular`` channels permuted by ``(g·f)(h) = f(g⁻¹ h)`` over the solver's element list;
* ``tensor(k)`` by g ⊗ … ⊗ g (``group_actions_cartesian``); weight spaces by hidden-neuron
  permutations of the documented weight lists (``group_actions_weights``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import group_actions_cartesian as gc
import group_actions_clifford as gac
import group_actions_weights as gw
import numpy as np
import torch
from scipy.linalg import expm
from spec_grammar import Family, Ty, irrep_of, is_irrep
from torch_env import float64_default

ROT90 = np.array([[0, -1], [1, 0]])  # (i, j) -> (-j, i): docs/gcnn.md
FLIP = np.array([[1, 0], [0, -1]])  # D(n)'s reflection


@dataclass
class Element:
    """One group element as the harness applies it."""

    matrix: np.ndarray | None = None  # acts on `vector` (orthogonal, Lorentz or symplectic)
    translation: np.ndarray | None = None
    perm: np.ndarray | None = None  # new node j is old node perm[j]
    turn: tuple[int, int] = (0, 0)  # grid: ROT90**a @ FLIP**b
    shifts: tuple[int, ...] = ()  # grid rolls (torus dims, or the longitude of a sphere)
    regular: np.ndarray | None = None  # new regular channel k reads old channel regular[k]
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def det(self) -> float:
        return 1.0 if self.matrix is None else float(np.sign(np.linalg.det(self.matrix)))


# ---------------------------------------------------------------------------- group elements


def random_orthogonal(rng: np.random.Generator, n: int, reflect: bool) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    q = q @ np.diag(np.where(np.diag(r) < 0, -1.0, 1.0))
    if (np.linalg.det(q) < 0) != reflect:
        q[:, 0] *= -1
    return q


def random_lorentz(rng: np.random.Generator, n: int) -> np.ndarray:
    """``exp`` of a random boost plus rotation: in SO+(1, n) (time first)."""
    gen = np.zeros((n + 1, n + 1))
    boost = rng.normal(scale=0.4, size=n)
    gen[0, 1:], gen[1:, 0] = boost, boost
    spin = rng.normal(scale=0.8, size=(n, n))
    gen[1:, 1:] = spin - spin.T
    out = expm(gen)
    eta = np.diag([1.0] + [-1.0] * n)
    assert np.allclose(out.T @ eta @ out, eta, atol=1e-10)
    return out


def random_symplectic(rng: np.random.Generator, n: int) -> np.ndarray:
    """``exp(J S)``, S symmetric: in Sp(2n)."""
    form = np.block([[np.zeros((n, n)), np.eye(n)], [-np.eye(n), np.zeros((n, n))]])
    sym = rng.normal(scale=0.3, size=(2 * n, 2 * n))
    out = expm(form @ (sym + sym.T))
    assert np.allclose(out.T @ form @ out, form, atol=1e-10)
    return out


def _block_permutation(rng: np.random.Generator, sizes: list[int]) -> np.ndarray:
    parts, start = [], 0
    for size in sizes:
        parts.append(start + rng.permutation(size))
        start += size
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def draw_element(family: Family, rng: np.random.Generator, sizes: list[int]) -> Element:
    if gw.is_weights(family):
        return gw.draw_element(family, rng, sizes)
    elem = _grid_element(family, rng) if family.field else _point_element(family, rng, sizes)
    elem.label = describe(elem)
    return elem


def describe(elem: Element) -> str:
    """What ``elem`` does, for the failure message."""
    parts = []
    if elem.matrix is not None:
        parts.append("reflection" if elem.det < 0 else "rotation/boost")
    if elem.translation is not None:
        parts.append("translation")
    if elem.perm is not None:
        parts.append("permutation")
    if elem.turn != (0, 0):
        parts.append(f"grid turn {elem.turn}")
    if elem.shifts:
        parts.append(f"shift {elem.shifts}")
    return ", ".join(parts) or "identity"


def _point_element(family: Family, rng: np.random.Generator, sizes: list[int]) -> Element:
    info, elem = family.info, Element()
    kind = info.get("kind")
    if kind == "orth":
        elem.matrix = random_orthogonal(rng, family.n, family.parity and rng.random() < 0.5)
        if info.get("translations"):
            elem.translation = rng.normal(size=family.n) * 3
    elif kind == "lorentz":
        elem.matrix = random_lorentz(rng, family.n - 1)
    elif kind == "sp":
        elem.matrix = random_symplectic(rng, family.n // 2)
    elif kind == "indefinite":
        elem.matrix = gac.random_element(rng, *info["signature"], info["group_family"])
    if family.axis is not None:
        elem.perm = _block_permutation(rng, sizes)
    return elem


def _grid_element(family: Family, rng: np.random.Generator) -> Element:
    info, elem = family.info, Element()
    if info.get("polar"):
        elem.shifts = (int(rng.integers(1, family.grid[1])),)
        return elem
    if info.get("shifts"):
        elem.shifts = tuple(int(rng.integers(0, n)) for n in family.grid)
    if info.get("grid_turns") is not None:
        order = info["order"]
        turns = [a for a in range(4) if a * order % 4 == 0]  # ROT90**a is in C(order)
        elem.turn = (int(rng.choice(turns)), int(rng.integers(0, 2)) if info["dihedral"] else 0)
        g = np.linalg.matrix_power(ROT90, elem.turn[0]) @ np.linalg.matrix_power(FLIP, elem.turn[1])
        elem.regular = _regular_reads(order, info["dihedral"], g)
    return elem


def _regular_reads(order: int, dihedral: bool, g: np.ndarray) -> np.ndarray:
    """``(g·f)(h) = f(g⁻¹ h)``: channel k reads channel index(g⁻¹ E_k). The element list (the
    channel order) is the solver's convention; the action is computed here."""
    from geoc.solver.groups import C, D

    elements = np.rint((D if dihedral else C)(order).elements).astype(int)
    keys = {e.tobytes(): i for i, e in enumerate(elements)}
    inverse = np.rint(np.linalg.inv(g)).astype(int)
    return np.array([keys[(inverse @ e).tobytes()] for e in elements])


# ---------------------------------------------------------------------------- channels


def atom_matrix(atom: str, elem: Element, family: Family) -> np.ndarray:
    """How ``elem`` acts on one copy of ``atom``."""
    dim = atom_dim(atom, family)
    g = elem.matrix
    if g is None or not family.rotations:
        return np.eye(dim)
    det = elem.det
    base = atom.split("(")[0]
    if atom in ("scalar", "0e"):
        return np.eye(1)
    if atom == "pseudoscalar":
        return np.eye(1) * det
    if atom in ("vector",) or base in ("point", "unit", "poincare"):
        return g
    if atom == "pseudovector":
        return det * g
    if is_irrep(atom):
        from e3nn import o3

        degree, p = irrep_of(atom)
        if not family.parity:  # SO(3): parity is no symmetry, the element is proper
            p = 1
        matrix = torch.as_tensor(g, dtype=torch.float64)
        with float64_default():  # e3nn builds its generators in the default dtype
            return o3.Irrep(degree, p).D_from_matrix(matrix).numpy()
    if gc.tensor_order(atom):
        return gc.tensor_matrix(g, gc.tensor_order(atom))
    if base in ("spd", "sym"):
        return np.kron(g, g)
    if base == "lorentz":
        return _block(np.eye(1), g)
    if base == "multivector":
        return gac.multivector_matrix(atom, g, family.info["signature"])
    raise ValueError(f"no action for {atom}")


def atom_dim(atom: str, family: Family) -> int:
    base = atom.split("(")[0]
    if atom in ("scalar", "pseudoscalar"):
        return 1
    if atom == "regular":
        return len(_order(family))
    if is_irrep(atom):
        return 2 * int(atom[0]) + 1
    if atom in ("vector", "pseudovector"):
        return family.n
    if gc.tensor_order(atom):
        return family.n ** gc.tensor_order(atom)
    if base == "multivector":
        return 2 ** sum(gac.signature_of(atom))
    arg = int(atom.split("(")[1].split(",")[0].rstrip(")")) if "(" in atom else 0
    if base in ("spd", "sym"):
        return arg * arg
    if base == "lorentz":
        return arg + 1
    return arg  # point(n), unit(n), poincare(n)


def _order(family: Family) -> list[int]:
    order = family.info["order"]
    return list(range(order * (2 if family.info["dihedral"] else 1)))


def _block(*mats: np.ndarray) -> np.ndarray:
    size = sum(len(m) for m in mats)
    out, at = np.zeros((size, size)), 0
    for m in mats:
        out[at : at + len(m), at : at + len(m)] = m
        at += len(m)
    return out


def channel_matrix(ty: Ty, elem: Element, family: Family) -> tuple[np.ndarray, np.ndarray]:
    """The matrix and the shift (translations of points) on the channels of ``ty``."""
    mats, shift = [], []
    for mul, atom in ty.terms:
        one = atom_matrix(atom, elem, family)
        move = (
            elem.translation if atom.startswith("point") and elem.translation is not None else None
        )
        for _ in range(mul):
            mats.append(one)
            shift.append(move if move is not None else np.zeros(len(one)))
    return _block(*mats), np.concatenate(shift)


def width(ty: Ty, family: Family) -> int:
    return sum(m * atom_dim(a, family) for m, a in ty.terms)


# ---------------------------------------------------------------------------- values


def move(value: torch.Tensor, ty: Ty, elem: Element, family: Family) -> torch.Tensor:
    """``g·value`` for a value of type ``ty`` (an input or an output)."""
    if gw.is_weights(family):
        return gw.move(value, ty, elem, family)
    if family.field and ty.axis == family.axis:
        return _move_field(value, ty, elem, family)
    if ty.axis is not None and elem.perm is not None:
        value = value[torch.as_tensor(elem.perm)]
    if family.field:  # a global value of a grid domain: only `regular` channels move
        return _permute_regular(value, ty, elem, family, value.ndim - 1)
    mat, shift = channel_matrix(ty, elem, family)
    return value @ torch.as_tensor(mat).T + torch.as_tensor(shift)


def _move_field(value: torch.Tensor, ty: Ty, elem: Element, family: Family) -> torch.Tensor:
    value = _permute_regular(value, ty, elem, family, 1)
    if elem.turn != (0, 0):
        rotations, flips = elem.turn
        for _ in range(flips):  # f(i, -j mod n): flip the last axis, roll it by one
            value = torch.roll(torch.flip(value, (-1,)), 1, -1)
        for _ in range(rotations):  # f(j, -i mod n): rot90 about the centre, roll rows by one
            value = torch.roll(torch.rot90(value, 1, (-2, -1)), 1, -2)
    if elem.shifts:
        dims = tuple(range(value.ndim - len(elem.shifts), value.ndim))
        value = torch.roll(value, elem.shifts, dims)
    return value


def _permute_regular(
    value: torch.Tensor, ty: Ty, elem: Element, family: Family, dim: int
) -> torch.Tensor:
    if elem.regular is None or "regular" not in ty.atoms:
        return value
    index, at = [], 0
    for mul, atom in ty.terms:
        size = len(elem.regular) if atom == "regular" else 1
        for _ in range(mul):
            index.extend(at + (elem.regular if atom == "regular" else np.zeros(1, dtype=int)))
            at += size
    return value.index_select(dim, torch.as_tensor(np.asarray(index, dtype=np.int64)))


# ---------------------------------------------------------------------------- inputs


@dataclass
class Sample:
    inputs: dict[str, object]
    sizes: list[int]
    graphs: int


def draw_inputs(family: Family, rng: np.random.Generator) -> Sample:
    """Random inputs for every declared input, plus ``edge_index`` / ``batch`` as needed."""
    if gw.is_weights(family):
        return gw.draw_sample(family, rng)
    graphs = int(rng.integers(1, 4))
    sizes = [int(rng.integers(3, 7)) for _ in range(graphs)]
    total = sum(sizes)
    inputs: dict[str, object] = {}
    for name, ty in family.inputs.items():
        if family.field:
            shape = (graphs, width(ty, family), *family.grid)
            inputs[name] = torch.as_tensor(rng.normal(size=shape))
            continue
        lead = (total,) if ty.axis else ((graphs,) if family.axis and graphs > 1 else ())
        if name == family.positions and family.info.get("lattice"):
            inputs[name] = torch.as_tensor(_lattice(rng, sizes, family.n))
            continue
        inputs[name] = torch.as_tensor(_draw_channels(ty, family, rng, lead))
    if family.axis and not family.field and graphs > 1:
        inputs["batch"] = torch.repeat_interleave(torch.arange(graphs), torch.tensor(sizes))
        inputs["num_graphs"] = graphs
    if family.edges and family.positions is None:
        density = 0.0 if family.info.get("empty_edges") else float(rng.choice([0.3, 0.6]))
        inputs["edge_index"] = torch.as_tensor(_random_edges(rng, sizes, density))
    return Sample(inputs, sizes, graphs)


def _lattice(rng: np.random.Generator, sizes: list[int], n: int) -> np.ndarray:
    """Distinct points of an integer grid, per graph: many equal distances (kNN ties)."""
    side = {1: 7, 2: 3, 3: 3}[n]
    grid = np.stack(np.meshgrid(*[np.arange(side)] * n, indexing="ij"), -1).reshape(-1, n)
    picks = [grid[rng.choice(len(grid), size, replace=False)] for size in sizes]
    return np.concatenate(picks).astype(np.float64)


def _draw_channels(ty: Ty, family: Family, rng: np.random.Generator, lead: tuple) -> np.ndarray:
    parts = []
    for mul, atom in ty.terms:
        for _ in range(mul):
            parts.append(_draw_atom(atom, family, rng, lead))
    return np.concatenate(parts, axis=-1)


def _draw_atom(atom: str, family: Family, rng: np.random.Generator, lead: tuple) -> np.ndarray:
    base, dim = atom.split("(")[0], atom_dim(atom, family)
    if base == "spd":
        n = round(dim**0.5)
        a = rng.normal(size=(*lead, n, n))
        return (a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)).reshape(*lead, dim)
    if base == "sym":
        n = round(dim**0.5)
        a = rng.normal(size=(*lead, n, n))
        return (a + np.swapaxes(a, -1, -2)).reshape(*lead, dim)
    if base == "unit":
        v = rng.normal(size=(*lead, dim))
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
    if base == "poincare":
        v = rng.normal(size=(*lead, dim))
        return 0.8 * v / (1 + np.linalg.norm(v, axis=-1, keepdims=True))
    if base == "lorentz":
        space = rng.normal(size=(*lead, dim - 1))
        k = float(atom.split("k=")[1].rstrip(")"))
        time = np.sqrt(1 / k + (space**2).sum(-1, keepdims=True))
        return np.concatenate([time, space], axis=-1)
    return rng.normal(size=(*lead, dim))


def _random_edges(rng: np.random.Generator, sizes: list[int], density: float) -> np.ndarray:
    """Directed edges inside each graph, no self loops, shuffled (none for density 0)."""
    pairs, start = [], 0
    for size in sizes:
        for s in range(size):
            for d in range(size):
                if s != d and rng.random() < density:
                    pairs.append((start + s, start + d))
        start += size
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return edges[:, rng.permutation(edges.shape[1])]


def as_tensors(outputs: dict, spec_outputs: dict, family: Family, inputs: dict) -> dict:
    """The module's outputs as tensors the harness compares (weight-space lists flattened)."""
    return (
        gw.as_tensors(outputs, spec_outputs, family, inputs) if gw.is_weights(family) else outputs
    )


def move_inputs(sample: Sample, elem: Element, family: Family) -> dict[str, object]:
    moved = dict(sample.inputs)
    for name, ty in family.inputs.items():
        moved[name] = move(sample.inputs[name], ty, elem, family)
    if "edge_index" in moved and elem.perm is not None:
        new_of_old = np.argsort(elem.perm)  # old node i sits at new position new_of_old[i]
        moved["edge_index"] = torch.as_tensor(new_of_old)[sample.inputs["edge_index"]]
    return moved  # `batch` is unchanged: nodes are permuted inside their graph


# ---------------------------------------------------------------------------- manifolds


def membership_error(value: torch.Tensor, ty: Ty, family: Family) -> float:
    """The worst relative distance of ``value``'s manifold-valued copies from their manifold
    (docs/manifolds.md): ``|x| = 1`` on ``unit``, ``<x, x>_L = -1/k`` with ``x0 > 0`` on
    ``lorentz``, ``c |x|² < 1`` on ``poincare``, symmetric with positive eigenvalues on
    ``spd``; 0 for a type without them."""
    worst, at = 0.0, 0
    if family.field and ty.axis == family.field and value.ndim > 2:
        value = value.movedim(1, -1)  # a field of points comes channel-first
    channels = value.reshape(-1, value.shape[-1]) if value.ndim > 1 else value[None]
    for mul, atom in ty.terms:
        size = atom_dim(atom, family)
        for _ in range(mul):
            worst = max(worst, _distance(channels[:, at : at + size], atom))
            at += size
    return worst


def _distance(x: torch.Tensor, atom: str) -> float:
    base = atom.split("(")[0]
    if x.numel() == 0 or base not in ("unit", "lorentz", "poincare", "spd"):
        return 0.0
    if base == "unit":  # `normalize` keeps 0 (docs/manifolds.md): the one value every
        norms = x.norm(dim=-1)  # rotation fixes, so no equivariant map sends it to the sphere
        off = torch.where(norms == 0, 0.0, (norms - 1).abs())
        return float(off.max())
    if base == "lorentz":
        k = float(atom.split("k=")[1].rstrip(")"))
        form = -(x[:, 0] ** 2) + (x[:, 1:] ** 2).sum(-1)
        off = ((form + 1 / k).abs() / (x**2).sum(-1).clamp(min=1 / k)).max()
        return float(off) if bool((x[:, 0] > 0).all()) else float("inf")
    if base == "poincare":
        c = float(atom.split("c=")[1].rstrip(")"))
        return 0.0 if bool((c * (x**2).sum(-1) < 1).all()) else float("inf")
    n = round(x.shape[-1] ** 0.5)
    mats = x.reshape(-1, n, n)
    asym = float((mats - mats.transpose(-1, -2)).abs().max() / mats.abs().max().clamp(min=1e-300))
    return asym if bool((torch.linalg.eigvalsh(mats) > 0).all()) else float("inf")

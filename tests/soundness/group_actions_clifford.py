"""The fuzzer's own action on multivectors (docs/clifford.md), written from the documented
layout, not from ``geoc.clifford``:

* Cl(p, q): e1 … ep square to +1, e(p+1) … en to -1; a multivector's 2^n coefficients are its
  blades grade by grade, lexicographic within a grade (the `clifford` package's order);
* g acts by the outermorphism: blade e_J goes to ``∧_j g e_j = Σ_I det g[I, J] e_I``, so
  coefficient I of ``g·x`` is ``Σ_J det g[I, J] x_J``;
* a reflection acts by the twisted conjugation ``x ↦ v α(x) v⁻¹``, which is the outermorphism
  of its matrix (no extra (-1)^k; test_group_actions checks it against the `clifford` package);
* elements of O(p, q) are drawn per component: a rotation of each sign block, a boost of
  rapidity up to 2 between random unit directions of the two blocks, then reflections in random
  unit vectors of a block (O: none, +, -, or both; SO: none or both; SO+: none).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.linalg import expm

MAX_RAPIDITY = 2.0


def signature_of(atom: str) -> tuple[int, int]:
    """``(p, q)`` of ``"multivector(p, q)"``."""
    p, q = atom.split("(")[1].rstrip(")").split(",")
    return int(p), int(q)


@functools.cache
def blades(n: int) -> tuple[tuple[int, ...], ...]:
    """Index sets of the blades, grade by grade, lexicographic within a grade."""
    return tuple(b for k in range(n + 1) for b in itertools.combinations(range(n), k))


def outermorphism(g: np.ndarray) -> np.ndarray:
    """``Λ g`` on the blade basis: entry (I, J) is the minor ``det g[I, J]`` (grades kept)."""
    basis = blades(len(g))
    out = np.zeros((len(basis), len(basis)))
    for i, rows in enumerate(basis):
        for j, cols in enumerate(basis):
            if len(rows) == len(cols):
                out[i, j] = np.linalg.det(g[np.ix_(rows, cols)]) if rows else 1.0
    return out


def metric(p: int, q: int) -> np.ndarray:
    return np.diag([1.0] * p + [-1.0] * q)


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    v = rng.normal(size=size)
    return v / np.linalg.norm(v)


def _rotation(rng: np.random.Generator, size: int) -> np.ndarray:
    if size == 0:
        return np.zeros((0, 0))
    q, r = np.linalg.qr(rng.normal(size=(size, size)))
    q = q @ np.diag(np.where(np.diag(r) < 0, -1.0, 1.0))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def reflection(p: int, q: int, block: str, rng: np.random.Generator) -> np.ndarray:
    """``I - 2 v vᵀ`` for a random unit v inside the +1 (``block="+"``) or -1 block: it keeps
    the metric since v is η-orthogonal to the other block."""
    n = p + q
    v = np.zeros(n)
    if block == "+":
        v[:p] = _unit(rng, p)
    else:
        v[p:] = _unit(rng, q)
    return np.eye(n) - 2 * np.outer(v, v)


def random_element(rng: np.random.Generator, p: int, q: int, family: str) -> np.ndarray:
    """An element of ``family`` ("O", "SO", "SO+") of O(p, q), any component it has."""
    n = p + q
    rot = np.zeros((n, n))
    rot[:p, :p], rot[p:, p:] = _rotation(rng, p), _rotation(rng, q)
    g = rot
    if p and q:
        gen = np.zeros((n, n))
        u, w = _unit(rng, p), _unit(rng, q)
        gen[:p, p:], gen[p:, :p] = np.outer(u, w), np.outer(w, u)
        g = expm(rng.uniform(0, MAX_RAPIDITY) * gen) @ g
    blocks = [b for b, size in (("+", p), ("-", q)) if size]
    if family == "O":
        chosen = [b for b in blocks if rng.random() < 0.5]
    elif family == "SO" and rng.random() < 0.5:
        chosen = blocks if len(blocks) == 2 else blocks * 2  # det +1 either way
    else:
        chosen = []
    for block in chosen:
        g = reflection(p, q, block, rng) @ g
    eta = metric(p, q)
    assert np.allclose(g.T @ eta @ g, eta, atol=1e-9), "not in O(p, q)"
    return g


def multivector_matrix(atom: str, g: np.ndarray, signature: tuple[int, int]) -> np.ndarray:
    """How ``g`` acts on one copy of ``atom``; only the group's own algebra has an action (a
    multivector of another signature accepted is a finding by itself)."""
    if signature_of(atom) != tuple(signature):
        raise ValueError(f"`{atom}` accepted under a group of Cl{tuple(signature)}")
    return outermorphism(g)

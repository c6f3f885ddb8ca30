"""``canonical { ... }``: a body typed under the group without its geometric factor.

Kaba et al. (2023), "Equivariance with learned canonicalization functions": if everything a
function reads is invariant under the geometric group G, the function is invariant, whatever
it computes. So inside the body, operators need commute only with what is left of the group
(the permutations of axes: a PointNet stays permutation-equivariant), and the elaborator holds
the body to two rules, both here:

* **reads**: every value read from outside must be invariant under the model's whole group's
  channel action (scalars, the coordinates ``to_frame(x, F)`` gives); a vector, point, irrep or
  frame is GEO461 at its use;
* **results**: every value computed inside is then a function of invariants, so it is typed as
  plain scalars, its channels in order (``vector`` -> ``3 x scalar``; type attributes written
  inside, such as the output type of ``linear``, likewise), and the proof of the whole model
  re-checks each body node under the full group on those invariant types.
"""

from __future__ import annotations

from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain
from geoc.groups import Geometric, Group
from geoc.types import SCALAR, FeatureType, Term, simplify


def reduced_group(group: Group, domain: Domain, span: Span | None) -> Group:
    """``group`` without its geometric factor (permutations stay), vectors of the same R^n.
    GEO384 under a matrix group (its channel action would stay, so results are not scalars)
    and on a grid (the group moves the grid itself: no frame undoes that)."""
    if domain.is_field:
        raise GeoError(
            Diagnostic(
                "GEO384",
                f"`canonical` moves values into a frame, but {group} moves the grid of "
                f"`{domain}` itself",
                span,
                label="a field domain",
                help="canonicalise values the group acts on by matrices (point clouds, sets, "
                "graphs, global values)",
            )
        )
    if group.matrix is not None:
        raise GeoError(
            Diagnostic(
                "GEO384",
                f"`canonical` removes a geometric symmetry, but {group} acts on channels by "
                f"{group.matrix}",
                span,
                label="no geometric factor",
                help="frames need `O(n)`, `SO(n)`, `E(n)` or `SE(n)` in `symmetry`",
            )
        )
    kept = tuple(f for f in group.factors if not isinstance(f, Geometric))
    return Group(kept, group.space_dim)


def body_type(group: Group, ftype: FeatureType, span: Span | None) -> FeatureType:
    """A value computed in the body, as the plain invariant scalars it is (labels stay labels);
    GEO462 for a manifold point, which would lose its manifold."""
    terms = []
    for term in ftype.terms:
        atom = term.atom
        if atom.is_manifold:
            raise GeoError(
                Diagnostic(
                    "GEO462",
                    f"a value computed in `canonical` leaves it as scalars, but `{atom}` is a "
                    "manifold point",
                    span,
                    label=str(ftype),
                    help="map it to coordinates first (`logmap0(x)`, `logeig(x)`)",
                )
            )
        plain = atom.is_label or atom == SCALAR
        terms.append(term if plain else Term(term.mul * group.atom_dim(atom), SCALAR))
    return FeatureType(simplify(tuple(terms)), ftype.axes)


def check_read(group: Group, name: str, ftype: FeatureType, span: Span | None) -> None:
    """GEO461 unless the value read inside the body is invariant under ``group``'s channel
    action (the model's full group)."""
    moving = next((a for a in ftype.atoms if not group.is_invariant(a)), None)
    if moving is None:
        return
    raise GeoError(
        Diagnostic(
            "GEO461",
            f"`{name}` is `{ftype}`, which {group} moves, read inside `canonical`: the body's "
            "results would depend on the orientation",
            span,
            label=f"`{moving}` is not invariant",
            help=f"move it into the frame with `to_frame({name}, F)` before the body",
        )
    )


__all__ = ["body_type", "check_read", "reduced_group"]

"""Declared types: the atoms of a type written in a spec must live where the model's group acts
(GEO330, GEO309), and integer labels only as a model input of their own (GEO361)."""

from __future__ import annotations

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.groups import MANIFOLD_DIMS, Group, Rotations, UnsupportedAtom
from geoc.types import AtomKind, FeatureType


def check_atoms(group: Group, ftype: FeatureType, span: Span | None) -> None:
    """Every atom of ``ftype`` is one ``group`` acts on, in the dimension it acts on."""
    n = group.space_dim
    rotated = group.rotations is not Rotations.NONE
    for atom in ftype.atoms:
        if rotated and atom.kind is AtomKind.IRREP and n != 3:
            raise GeoError(
                Diagnostic(
                    "GEO309",
                    f"`{atom}` is an irrep of O(3), but {group} rotates R^{n}",
                    span,
                    help="use `vector`, `tensor(k)` or `scalar`, or a group of R^3",
                )
            )
        try:
            group.atom_dim(atom)
            group.require_irrep_fits(atom)
        except budget.BudgetExceeded as err:
            raise GeoError(Diagnostic("GEO520", str(err), span, help=budget.RAISE_HELP)) from None
        except UnsupportedAtom as err:  # e.g. `regular` of a Lie group
            raise GeoError(Diagnostic("GEO330", str(err), span, help=err.help)) from None
        except ValueError:
            raise GeoError(
                Diagnostic(
                    "GEO309",
                    f"`{atom}` needs a group acting on R^n",
                    span,
                    help="add `E(3)` or `O(3)` to `symmetry`, or use `point(n)`",
                )
            ) from None
        if rotated and atom.kind in MANIFOLD_DIMS and atom.args[0] != n:
            raise GeoError(
                Diagnostic(
                    "GEO309",
                    f"`{atom}` lives on R^{atom.args[0]}, but {group} rotates R^{n}",
                    span,
                    help=f"use `{atom.kind.value}({n})`, or a group of the same dimension",
                )
            )
        if atom.is_point and n is not None and atom.args[0] != n:
            raise GeoError(
                Diagnostic(
                    "GEO309",
                    f"`{atom}` does not live in the {n}-dimensional space of {group}",
                    span,
                    help=f"use `point({n})`",
                )
            )


def check_labels(ftype: FeatureType, span: Span | None, what: str) -> None:
    """GEO361 unless ``index(n)`` stands where labels can come from: a model input (``what``
    is ``"input"``) of type exactly ``index(n) over AXIS``, one label per element."""
    if not ftype.has_labels:
        return
    if what != "input":
        where = "an output" if what == "output" else what
        problem = f"{where} cannot hold integer labels: `index(n)` types model inputs only"
        fix = "declare labels as `input z: index(n) over nodes` and `embed` them"
    elif ftype.classes is None and len(ftype.terms) == 1:
        problem = f"`{ftype}` holds several labels per element"
        fix = "declare one input `index(n) over AXIS` per kind of label"
    elif ftype.classes is None:
        problem = f"`{ftype}` mixes integer labels with other channels"
        fix = "declare the labels as an input of their own, `index(n) over nodes`"
    elif len(ftype.axes) != 1:
        problem = f"`{ftype}` needs one axis: integer labels are one per element"
        fix = "e.g. `input z: index(species) over nodes`"
    else:
        return
    raise GeoError(Diagnostic("GEO361", problem, span, label=str(ftype), help=fix))

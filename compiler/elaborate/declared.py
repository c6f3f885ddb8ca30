"""Declared types: the atoms of a type written in a spec must live where the model's group acts
(GEO330, GEO309)."""

from __future__ import annotations

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.groups import MANIFOLD_DIMS, Group, Rotations, UnsupportedAtom
from geoc.types import FeatureType


def check_atoms(group: Group, ftype: FeatureType, span: Span | None) -> None:
    """Every atom of ``ftype`` is one ``group`` acts on, in the dimension it acts on."""
    for atom in ftype.atoms:
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
        n = group.space_dim
        rotated = group.rotations is not Rotations.NONE
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

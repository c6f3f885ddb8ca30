"""``set(axis)``: an unordered set of elements along one index axis, no edges."""

from geoc.domains.base import DomainKind, axis_rules, register

register(axis_rules(DomainKind.SET))

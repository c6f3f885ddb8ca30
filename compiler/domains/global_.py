"""The global domain: a single point, no index axes (a model without `domain`)."""

from geoc.domains.base import DomainKind, DomainRules, register

register(DomainRules(DomainKind.GLOBAL, describe=lambda d: "global", axes=lambda d: ()))

"""How a layer's weights and biases start: the initialisers of the language.

A layer that owns weights takes ``init=`` (its weights) and ``bias_init=`` (its bias), e.g.
``linear(h, 64 x scalar, init=orthogonal, bias_init=zeros)``; in ``mlp`` either one value for
every layer or a list with one per layer. An :class:`Initialiser` is an immutable value: its
text is what a spec writes and parses back (``xavier(gain=0.001)``), and the IR, the generated
code's comments and an exported manifest keep it as that text. The backend draws it
(``geoc.backends.torch_fx.initialise``); this module never imports torch.

    >>> Initialiser.parse("xavier(gain=0.001)")
    Initialiser(name='xavier', args=(('gain', 0.001),))
    >>> str(Initialiser.parse("normal(std=0.02)")), str(UNIFORM)
    ('normal(std=0.02)', 'uniform')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InitRule:
    """One initialiser of the language: its arguments with their defaults, whether it may
    start a bias (a vector has no fan-out and no orthogonal frame), and what it draws."""

    args: tuple[tuple[str, float], ...]
    for_bias: bool
    doc: str


#: The initialisers by name: the one table the elaborator, docs and backend read.
RULES: dict[str, InitRule] = {
    "uniform": InitRule(
        (), True, "U(-1/sqrt(fan_in), 1/sqrt(fan_in)), `nn.Linear`'s rule (the default)"
    ),
    "xavier": InitRule(
        (("gain", 1.0),),
        False,
        "Xavier/Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) "
        "(`torch.nn.init.xavier_uniform_`)",
    ),
    "zeros": InitRule((), True, "all zeros"),
    "normal": InitRule(
        (("std", 1.0),), True, "N(0, std^2) (`torch.nn.init.normal_`; std defaults to 1)"
    ),
    "siren": InitRule(
        (("w0", 1.0),),
        True,
        "SIREN's hidden layers (Sitzmann et al. 2020): U(-a, a), a = sqrt(6 / fan_in) / w0, for "
        "a layer followed by `sin(w0 x)`",
    ),
    "siren_first": InitRule(
        (), True, "SIREN's first layer: U(-1/fan_in, 1/fan_in) (Sitzmann et al. 2020)"
    ),
    "orthogonal": InitRule(
        (("gain", 1.0),),
        False,
        "a (semi-)orthogonal matrix times gain (`torch.nn.init.orthogonal_`)",
    ),
}


@dataclass(frozen=True)
class Initialiser:
    """An initialiser with its arguments as written (defaults are filled when drawn)."""

    name: str
    args: tuple[tuple[str, float], ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args)})"

    def arg(self, name: str) -> float:
        """The argument ``name``, or the rule's default."""
        given = dict(self.args)
        return float(given[name]) if name in given else dict(RULES[self.name].args)[name]

    @classmethod
    def parse(cls, text: str) -> Initialiser:
        """The initialiser written ``text`` (its own ``str``); ValueError if it is not one."""
        match = _TEXT.fullmatch(text.strip())
        if match is None or match["name"] not in RULES:
            raise ValueError(f"not an initialiser: {text!r}")
        args = tuple((k.strip(), float(v)) for k, v in (a.split("=") for a in _args(match["args"])))
        return cls(match["name"], args)


def _args(text: str | None) -> list[str]:
    return [a for a in (text or "").split(",") if a.strip()]


_TEXT = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:\((?P<args>[^()]*)\))?")

UNIFORM = Initialiser("uniform")

#: How the IR's JSON marks an initialiser (as ``{"type": ...}`` marks a feature type).
JSON_KEY = "init"


def is_initialiser_value(value: Any) -> bool:
    """One initialiser, or a tuple of them (one per layer of an `mlp`)."""
    if isinstance(value, tuple):
        return bool(value) and all(isinstance(v, Initialiser) for v in value)
    return isinstance(value, Initialiser)


def per_layer(value: Any, layers: int, default: Any) -> tuple[Any, ...]:
    """``value`` for each of ``layers`` layers: a tuple as given, one value repeated, or
    ``default`` where absent (None)."""
    if value is None:
        value = default
    return tuple(value) if isinstance(value, tuple) else (value,) * layers

"""Elaboration: AST -> typed IR.

Binds compile-time parameters, expands ``block`` calls and ``repeat`` (every iteration gets
its own weights), matches each call to its operator's signature (tensors, then attributes),
types every value by the operator's typing rule, and names every node after the spec."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

from geoc import budget
from geoc.diagnostics import Diagnostic, GeoError, Span
from geoc.domains import Domain, domain_from_ast, is_spectrum_axis
from geoc.domains.axes import all_axes, check_domains, check_ports, cross_sets, further
from geoc.elaborate.breaking import breaking_names, check_breakers, declared_remainder
from geoc.elaborate.canonical import reduced_group
from geoc.elaborate.declared import check_atoms
from geoc.elaborate.expressions import Expressions
from geoc.elaborate.messages import factor_span
from geoc.elaborate.recovery import Problems, bound_names
from geoc.elaborate.signatures import bind_params
from geoc.elaborate.values import Const, Poison, Poisoned, Scope, Value
from geoc.grammar import ast
from geoc.groups import Group, group_from_ast
from geoc.ir import Graph, Node, Port, ValueRef
from geoc.program import Program
from geoc.types import FeatureType, points_dim, type_from_ast


class Elaborator(Expressions):
    """A model's statements (ports, assignments, ``repeat``) over :class:`Expressions`."""

    def __init__(self, program: Program, model: ast.Model, overrides: dict[str, Any]) -> None:
        self.program = program
        self.model = model
        self.problems = Problems()
        self.failed: list[ast.Stmt] = []  # every statement that failed, in any scope
        params = bind_params(model.params, overrides, model.name.span)
        self.group, self.domain = self._symmetry_and_domain(params)
        self.graph = Graph(
            model.name.id, self.group, self.domain, params, span=model.span, more=self.more
        )
        self.graph.declared, self.graph.broken = self.declared, self.broken
        self.ids: set[str] = set()
        self.calling: list[str] = []
        self.by = breaking_names(model)
        self.model_env: dict[str, Any] = {}

    # --- model level ---

    def run(self) -> Elaboration:
        """Every statement, each failure recorded and elaboration continued after it."""
        scope = Scope("", {k: Const(v) for k, v in self.graph.params.items()})
        self.model_env = scope.env  # `repeat` bodies share it; blocks have their own
        self._statements(self.model.body, scope, in_block=False)
        self.problems.attempt(lambda: check_breakers(self.model, scope))
        if not any(isinstance(s, ast.Input) for s in self.failed):  # it may be the positions
            self.problems.attempt(self._check_ports)
        if self.failed and not self.problems:  # never a graph with a hole and no error
            raise RuntimeError(f"statements failed without a diagnostic: {self.failed}")
        sources = {**self.program.sources, **self.problems.sources}
        return Elaboration(self.graph, self.problems.diagnostics, sources)

    def _symmetry_and_domain(self, params: dict[str, Any]) -> tuple[Group, Domain]:
        """The group and the domains (the first the primary, ``self.more`` the others), each
        checked on its own, then together. Every statement is typed in them, so after a
        problem here the body is not elaborated (its errors would be guesses)."""
        sym = [s for s in self.model.body if isinstance(s, ast.Symmetry)]
        dom = [s for s in self.model.body if isinstance(s, ast.Domain)]
        if len(sym) > 1:
            self.problems.record(
                GeoError(
                    Diagnostic(
                        "GEO209",
                        "`symmetry` is declared twice",
                        sym[1].span,
                        help="declare `symmetry` once",
                    )
                )
            )
        parsed = [self.problems.attempt(lambda s=s: domain_from_ast(s.value, params)) for s in dom]
        group = self.problems.attempt(
            lambda: group_from_ast(sym[0].factors, params) if sym else Group()
        )
        if self.problems or any(d is None for d in parsed) or group is None:
            raise self.problems.error(self.program.sources)
        domains = check_domains(parsed, dom) if parsed else (Domain(),)  # type: ignore[arg-type]
        domain, self.more = domains[0], tuple(domains[1:])
        sets = {d.axis for d in cross_sets(domains)}  # edges move with their ends' permutations
        axes = tuple(a for a in all_axes(domains) if a not in sets)
        for axis in group.permuted_axes:
            if axis not in axes:
                raise GeoError(
                    Diagnostic(
                        "GEO406",
                        f"`S({axis})` permutes `{axis}`, but the domain has no such axis",
                        factor_span(sym[0], axis),
                        label="no such axis",
                        help=f"the domain's axes: {', '.join(axes) or 'none'}",
                    )
                )
        for each in domains:
            _grid_steps_only(group, each, sym[0].span if sym else None)
            each.rules.check_symmetry(group, each, sym[0].span if sym else None)
        dim = next((d.dim for d in domains if d.dim), None) or self._points_dim(params)
        self.declared = group.with_default_dim(dim)
        # Every statement is typed and proved under what remains of the group (`breaks`).
        remaining, self.broken = declared_remainder(self.model, self.declared, domains, params)
        return remaining, domain

    def _points_dim(self, params: dict[str, Any]) -> int | None:
        """Without a geometric factor or a point cloud, the inputs' points fix the space
        that `vector` (e.g. `p - q`) lives in; a bad input type is reported at its input."""
        types = []
        for stmt in self.model.body:
            if isinstance(stmt, ast.Input):
                with contextlib.suppress(GeoError):
                    types.append(type_from_ast(stmt.type, params))
        return points_dim(types)

    def _check_ports(self) -> None:
        rules, span = self.domain.rules, self.model.name.span
        self.graph.positions = rules.positions(self.domain, self.graph.inputs, span)
        for domain in further(self.graph.domains):  # each further point cloud's positions
            found = domain.rules.positions(domain, self.graph.inputs, span)
            if found is not None:
                self.graph.more_positions[domain.axis or ""] = found
        if self.more:
            check_ports(self.graph.domains, self.graph.inputs, self.graph.outputs, span)

    # --- statements ---

    def _statements(self, body: tuple[ast.Stmt, ...], scope: Scope, in_block: bool) -> list[Value]:
        """The statements of a body in order; the values of its ``return``. A statement that
        fails is recorded and poisons the names it binds; a failed ``return`` fails the
        block's call silently (its diagnostic is recorded)."""
        for stmt in body:
            try:
                result = _STATEMENTS[type(stmt)](self, stmt, scope)
            except (GeoError, Poisoned) as err:
                self._failed(stmt, scope, err)
                if isinstance(stmt, ast.Return):
                    raise Poisoned("return") from None
                continue
            if isinstance(stmt, ast.Return):
                return result
        return []

    def _failed(self, stmt: ast.Stmt, scope: Scope, err: GeoError | Poisoned) -> None:
        if isinstance(err, GeoError):
            self.problems.record(err)
        for name in bound_names(stmt):
            scope.env[name] = Poison()
        self.failed.append(stmt)

    def _input(self, stmt: ast.Input, scope: Scope) -> None:
        name = stmt.name.id
        ftype = self._new_port_type("input", stmt, self.graph.inputs, scope)
        self._check_axes(ftype, stmt.type)
        _no_coefficient_input(ftype, stmt)
        broken = name in self.by
        if not broken:  # read under the declared group
            check_atoms(self.declared, ftype, stmt.type.span)
        node = self._add(
            Node(
                id=f"input.{name}",
                op="input",
                attrs={"name": name},
                out_types=(ftype,),
                span=stmt.span,
            )
        )
        if not broken and self.graph.broken:
            self.graph.unbroken.add(node.id)
        ref = ValueRef(node=node.id)
        self.graph.inputs[name] = Port(name=name, type=ftype, value=ref, span=stmt.span)
        scope.env[name] = Value(ref, ftype, broken)

    def _output(self, stmt: ast.Output, scope: Scope) -> None:
        name = stmt.name.id
        declared = self._new_port_type("output", stmt, self.graph.outputs, scope)
        value = self.tensor(stmt.value, scope, scope.prefix + name)
        same = self.group_for(value.broken).same_rep(declared, value.type)
        if not (same and declared.axes == value.type.axes):
            raise GeoError(
                Diagnostic(
                    "GEO306",
                    f"output `{name}` is declared `{declared}` but its value is `{value.type}`",
                    stmt.value.span,
                    label=str(value.type),
                    help="integer labels are inputs only: `embed` them first"
                    if value.type.has_labels
                    else f"declare `output {name}: {value.type}`, or change the value",
                )
            )
        self.graph.outputs[name] = Port(name=name, type=declared, value=value.ref, span=stmt.span)

    def _new_port_type(
        self, what: str, stmt: ast.Input | ast.Output, ports: dict[str, Port], scope: Scope
    ) -> FeatureType:
        """The declared type of a new input or output; GEO209 when its name is taken."""
        name = stmt.name.id
        if name in ports:
            raise GeoError(
                Diagnostic("GEO209", f"{what} `{name}` is declared twice", stmt.name.span)
            )
        return self._declared_type(stmt.type, scope, what)

    def _assign(self, stmt: ast.Assign, scope: Scope) -> None:
        hint = scope.prefix + stmt.targets[0].id
        breaks = scope.env is self.model_env and any(t.id in self.by for t in stmt.targets)
        with self.breaking_statement(breaks):
            result = self.evaluate(stmt.value, scope, hint)
        values = result if isinstance(result, tuple) else (result,)
        if breaks:  # a value named after `by`: broken, whatever computed it
            values = tuple(dataclasses.replace(v, broken=True) for v in values)
        if len(values) != len(stmt.targets):
            raise GeoError(
                Diagnostic(
                    "GEO308",
                    f"{len(stmt.targets)} names but the value gives {len(values)}",
                    stmt.span,
                    help="bind as many names as the block returns",
                )
            )
        for target, value in zip(stmt.targets, values, strict=True):
            scope.env[target.id] = value

    def _repeat(self, stmt: ast.Repeat, scope: Scope) -> None:
        count = self.const(stmt.count, scope)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise GeoError(
                Diagnostic(
                    "GEO302",
                    "`repeat` needs a non-negative integer count",
                    stmt.count.span,
                    label=repr(count),
                    help="pick parameters that make this count a whole number >= 0 (the "
                    "model's comments may say their range)",
                )
            )
        base = scope.child_prefix("layers")
        for i in range(count):
            before = len(self.graph)
            inner = Scope(f"{base}{i}.", scope.env)  # rebinding carries to the next iteration
            self._statements(stmt.body, inner, in_block=True)
            if i == 0:  # each iteration adds as many nodes: refuse before unrolling the rest
                projected = before + (len(self.graph) - before) * count
                self._check_size(projected, f" after `repeat {count}`", stmt.count.span)

    def _canonical(self, stmt: ast.Canonical, scope: Scope) -> None:
        """The body under the group without its geometric factor (elaborate/canonical.py): the
        one place the group changes; names bound inside stay bound after it, as scalars."""
        if self.outside is not None:
            raise GeoError(
                Diagnostic(
                    "GEO384",
                    "`canonical` inside `canonical`: the body is already typed without the "
                    "geometric symmetry",
                    stmt.span,
                    label="nested",
                    help="write the statements in the outer body",
                )
            )
        self.outside = (self.group, self.declared)
        self.group = reduced_group(self.group, self.domain, stmt.span)
        self.declared = reduced_group(self.declared, self.domain, stmt.span)
        try:
            self._statements(stmt.body, scope, in_block=True)
        finally:
            (self.group, self.declared), self.outside = self.outside, None

    def _check_size(self, nodes: int, what: str, span: Span | None) -> None:
        """GEO520 when the IR would grow past the budget's node limit."""
        try:
            budget.require_nodes(f"the model's IR{what}", nodes)
        except budget.BudgetExceeded as err:
            raise GeoError(
                Diagnostic(
                    "GEO520", str(err), span, label=f"{nodes:,} IR nodes", help=budget.RAISE_HELP
                )
            ) from None

    def _return(self, stmt: ast.Return, scope: Scope) -> list[Value]:
        return [self.tensor(v, scope, f"{scope.prefix}return") for v in stmt.values]

    def _check_axes(self, ftype: FeatureType, expr: ast.Expr) -> None:
        written = {a.id: a.span for a in expr.axes} if isinstance(expr, ast.Over) else {}
        axes = all_axes(self.graph.domains)
        for axis in ftype.axes:
            if axis not in axes:
                where = "the domain" if not self.more else "the domains"
                owner = "the domain's" if not self.more else "the domains'"
                raise GeoError(
                    Diagnostic(
                        "GEO203",
                        f"axis `{axis}` is not an axis of {where} `{self.domain}`"
                        + "".join(f", `{d}`" for d in self.more),
                        written.get(axis, expr.span),
                        label="unknown axis",
                        help=f"{owner} axes: {', '.join(axes) or 'none'}",
                    )
                )


def _no_coefficient_input(ftype: FeatureType, stmt: ast.Input) -> None:
    """GEO532 for an input over ``spectrum``: a model computes spherical-harmonic coefficients
    (``sht(z)``, complex, one layout per band) but takes none; it takes the field."""
    if ftype.axes and is_spectrum_axis(ftype.axes[0]):
        raise GeoError(
            Diagnostic(
                "GEO532",
                f"input `{stmt.name.id}` over `{ftype.axes[0]}`: spherical-harmonic "
                "coefficients as a model input are not built",
                stmt.type.span,
                label=str(ftype),
                help="take the field over `sphere` and transform it inside the model with `sht(z)`",
            )
        )


_STATEMENTS = {
    ast.Symmetry: lambda self, stmt, scope: None,
    ast.Breaks: lambda self, stmt, scope: None,
    ast.Domain: lambda self, stmt, scope: None,
    ast.Input: Elaborator._input,
    ast.Output: Elaborator._output,
    ast.Assign: Elaborator._assign,
    ast.Repeat: Elaborator._repeat,
    ast.Canonical: Elaborator._canonical,
    ast.Return: Elaborator._return,
}


@dataclass(frozen=True)
class Elaboration:
    """A model's typed IR and every problem found on the way. With problems, ``graph`` holds
    only what typed (every node's inputs typed, so its contracts can still be checked), and
    it must never be accepted or lowered."""

    graph: Graph
    problems: tuple[Diagnostic, ...]
    sources: dict[str, str]

    def graph_or_error(self) -> Graph:
        if self.problems:
            raise GeoError(self.problems, self.sources)
        return self.graph


def elaborate_all(
    program: Program, model: str | None = None, params: dict[str, Any] | None = None
) -> Elaboration:
    """The typed IR of one model of ``program`` with every problem of its statements; raises
    when nothing can be typed (a bad parameter, symmetry or domain)."""
    try:
        chosen = program.model(model)
        return Elaborator(program, chosen, dict(params or {})).run()
    except GeoError as err:
        raise GeoError(err.diagnostics, {**program.sources, **err.sources}) from None


def elaborate(
    program: Program, model: str | None = None, params: dict[str, Any] | None = None
) -> Graph:
    """The typed IR of one model of ``program``; a GeoError with every typing problem."""
    return elaborate_all(program, model, params).graph_or_error()


__all__ = ["Const", "Elaboration", "Elaborator", "Value", "elaborate", "elaborate_all"]


def _grid_steps_only(group: Group, domain: Domain, span: Span | None) -> None:
    """GEO221: translations in steps (``T(d, step=k)``) count grid points, so only a grid
    domain gives them a meaning (and its own symmetry rule decides which it carries)."""
    geo = group.geometric
    if geo is not None and geo.step > 1 and not domain.is_field:
        raise GeoError(
            Diagnostic(
                "GEO221",
                f"`{geo}` shifts by whole grid points, but `{domain}` has no grid",
                span,
                label="translation step",
                help=f"declare `T({geo.n})` for every translation, or use `domain torus(...)`",
            )
        )

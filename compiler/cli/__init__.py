"""The ``geoc`` command line: ``specs``, ``explain``, ``fmt``, ``compile``, ``check``, ``lsp``,
``graph``.

Exit codes: 0 success; 1 a problem the user can fix, or a failed check (rendered diagnostics
on stderr, never a traceback); 3 an internal error (a bug in geoc: the traceback is printed
only with ``GEOC_DEBUG=1``).
Output is plain text; stdout carries results (listings, formatted text, diffs) and stderr
carries diagnostics and progress lines.

>>> main(["explain", "GEO113"])  # doctest: +ELLIPSIS
GEO113: cannot read source
...
0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import geoc
from geoc import catalog
from geoc.budget import DEFAULT, MAX_SEED, RAISE_HELP, Budget, BudgetExceeded, using
from geoc.cache import write_atomically
from geoc.cli.arguments import count, in_range, param_values, parse_overrides, tolerance
from geoc.cli.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    internal_error,
    print_error,
    silence_stdout,
)
from geoc.cli.fmt import fmt_arguments, run_fmt
from geoc.cli.graph import graph_arguments, run_graph
from geoc.diagnostics import CODES, DEFAULT_MAX_ERRORS, Diagnostic, GeoError, explain
from geoc.lsp import lsp_arguments, run_lsp
from geoc.options import OPTIMIZE_LEVELS

EMIT_KINDS = ("module", "code", "ir", "dot")
TP_ALGORITHMS = ("auto", "cg", "so2")

Command = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------------------------
# Entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``geoc`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    try:
        return _run(argv)
    except GeoError as err:
        print_error(err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("geoc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()  # a reader such as `head` left early: not an error of ours
        return EXIT_OK
    except Exception as err:  # the one place that turns a bug into exit 3, not a traceback
        return internal_error(err)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help and --version end here with code 0
        return done.code if isinstance(done.code, int) else EXIT_ERROR
    if args.command is None:
        raise _usage_error("geoc", "no command given")
    limits = Budget(
        getattr(args, "max_bytes", DEFAULT.max_bytes),
        getattr(args, "max_dim", DEFAULT.max_dim),
        getattr(args, "max_nodes", DEFAULT.max_nodes),
    )
    try:
        with using(limits):
            return args.run(args)
    except BudgetExceeded as err:  # one not sized at a layer (lowering): still no traceback
        print_error(GeoError(Diagnostic("GEO520", str(err), help=RAISE_HELP)))
        return EXIT_ERROR
    except GeoError as err:
        print_error(err, getattr(args, "max_errors", DEFAULT_MAX_ERRORS))
        return EXIT_ERROR


# ---------------------------------------------------------------------------------------------
# Argument parsing: argparse's own errors become GEO191 diagnostics instead of exiting.


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _usage_error(self.prog, message)


def _usage_error(prog: str, message: str) -> GeoError:
    return GeoError(Diagnostic("GEO191", message, help=f"run `{prog} --help` for the usage"))


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``geoc`` and its subcommands (also the source of ``--help``)."""
    parser = _Parser(
        prog="geoc",
        description="geoc: compile .geo specs of equivariant networks to torch.fx modules.",
        epilog="Exit codes: 0 ok, 1 diagnostics, 2 stage not available yet, 3 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"geoc {geoc.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (help_text, add_arguments, run) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", nargs="?", metavar="CODE", help="e.g. GEO113 (omit to list all)")


def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="a .geo file or a built-in spec name")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a model parameter (repeatable)",
    )
    parser.add_argument("--model", metavar="NAME", help="the model to use if the file has several")
    parser.add_argument(
        "--seed", type=in_range("seed", 0, MAX_SEED), default=0,
        help=f"initialisation seed, 0 to {MAX_SEED} (default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--max-errors", type=count, default=DEFAULT_MAX_ERRORS, metavar="N",
        help=f"show at most N diagnostics, 0 for all (default {DEFAULT_MAX_ERRORS})",
    )  # fmt: skip
    parser.add_argument(
        "--max-bytes", type=in_range("--max-bytes", 1, None), default=DEFAULT.max_bytes,
        metavar="BYTES", help="the largest basis, representation or dense matrix the solver "
        f"and the checker may build (default {DEFAULT.max_bytes}, 2 GiB)",
    )  # fmt: skip
    parser.add_argument(
        "--max-dim", type=in_range("--max-dim", 1, None), default=DEFAULT.max_dim, metavar="N",
        help="the largest tensor space the solver solves numerically for a basis "
        f"(default {DEFAULT.max_dim})",
    )  # fmt: skip
    parser.add_argument(
        "--max-nodes", type=in_range("--max-nodes", 1, None), default=DEFAULT.max_nodes,
        metavar="N", help="the most IR nodes a model may expand to (`repeat`, blocks; default "
        f"{DEFAULT.max_nodes})",
    )  # fmt: skip


def _compile_arguments(parser: argparse.ArgumentParser) -> None:
    _spec_arguments(parser)
    parser.add_argument("-o", "--output", metavar="DIR", help="where to write the artefacts")
    parser.add_argument(
        "--emit",
        choices=EMIT_KINDS,
        default="module",
        help="module: the loadable folder (with -o) and a summary; code: the generated Python; "
        "ir: the typed IR as JSON; dot: the IR as Graphviz (default: module)",
    )
    parser.add_argument("--device", metavar="DEVICE", help="e.g. cpu or cuda (default: cpu)")
    parser.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="leave the runtime input checks out of the module (docs/validation.md)",
    )
    parser.add_argument(
        "--potential",
        action="store_true",
        help="with -o: also write energy, forces (and stress) as one torch.export program "
        "and potential.py to load it (docs/atomistic.md)",
    )
    _tp_algorithm_argument(parser)
    _optimize_argument(parser)
    _sphere_grid_argument(parser)


def _tp_algorithm_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tp-algorithm",
        choices=TP_ALGORITHMS,
        default="auto",
        help="lowering of tp_conv: cg (Clebsch-Gordan), so2 (eSCN), or auto (cost model)",
    )


def _optimize_argument(parser: argparse.ArgumentParser) -> None:
    levels = "; ".join(f"{name}: {what}" for name, what in OPTIMIZE_LEVELS.items())
    parser.add_argument(
        "--optimize", choices=tuple(OPTIMIZE_LEVELS), default="ir",
        help=f"{levels} (docs/compiled.md)",
    )  # fmt: skip
    if parser.prog.endswith("compile"):
        parser.add_argument(
            "--explain-opt",
            action="store_true",
            help="print which IR rewrites fired where, with their estimated saving "
            "(docs/optimizer.md)",
        )


def _sphere_grid_argument(parser: argparse.ArgumentParser) -> None:
    # A free word, not `choices`: the compiler's GEO533 names the kinds (one place) and also
    # refuses the option on a model that is not over a sphere.
    parser.add_argument(
        "--sphere-grid", default=None, metavar="KIND",
        help="the kind of grid a sphere model's inputs are on: equiangular or legendre_gauss "
        "(default: the spec's `grid=`; docs/spectral.md, \"Other grids\")",
    )  # fmt: skip


#: Upper bounds on the checker's work per run: each trial and each graph costs a forward pass.
TRIALS_MAX = 10_000
GRAPHS_MAX = 10_000


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _spec_arguments(parser)
    parser.add_argument(
        "--static", action="store_true", help="only the type-rule proof (no torch, no numerics)"
    )
    parser.add_argument(
        "--trials", type=in_range("--trials", 1, TRIALS_MAX), default=3, metavar="N",
        help=f"sampled group elements, 1 to {TRIALS_MAX} (default 3); trials after the first "
        "run with random parameters",
    )  # fmt: skip
    parser.add_argument(
        "--graphs", type=in_range("--graphs", 1, GRAPHS_MAX), default=2, metavar="N",
        help=f"graphs per batch on graph and point domains, 1 to {GRAPHS_MAX} (default 2)",
    )  # fmt: skip
    parser.add_argument(
        "--atol", type=tolerance, default=None, metavar="X",
        help="a fixed absolute tolerance instead of the exact laws' 1e-12 relative one",
    )  # fmt: skip
    parser.add_argument(
        "--json", default=None, metavar="FILE",
        help="also write the verdict as JSON: the group verified, what was declared broken, "
        "one row per output",
    )  # fmt: skip
    _tp_algorithm_argument(parser)
    _optimize_argument(parser)
    _sphere_grid_argument(parser)


# ---------------------------------------------------------------------------------------------
# geoc specs / geoc explain


def run_specs(args: argparse.Namespace) -> int:
    specs = catalog.builtin_specs()
    width = max((len(s.name) for s in specs), default=0)
    for spec in specs:
        print(f"{spec.name:<{width}}  {spec.description}".rstrip())
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    if args.code is None:
        return _list_codes()
    code = _normalise_code(args.code)
    if code not in CODES:
        raise GeoError(
            Diagnostic(
                "GEO191",
                f"unknown diagnostic code `{args.code}`",
                help="run `geoc explain` to list every code",
            )
        )
    print(explain(code), end="")
    return EXIT_OK


def _normalise_code(text: str) -> str:
    code = text.strip().upper()
    return f"GEO{code}" if code.isdigit() else code


def _list_codes() -> int:
    for code in sorted(CODES):
        print(f"{code}  {CODES[code].title}")
    print("\nRun `geoc explain CODE` for the long form of one.")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# geoc compile / geoc check


def _graph(args: argparse.Namespace):
    """The proven IR as written (the static verdict is about the spec itself)."""
    from geoc.pipeline import frontend

    return frontend(args.spec, param_values(args.param), args.model)


def _lowered_graph(args: argparse.Namespace):
    """The IR as lowered: rewritten unless `--optimize none` (docs/optimizer.md), with the
    rewrites listed first under `--explain-opt`."""
    graph = _graph(args)
    if args.optimize == "none":
        return graph
    from geoc.optimize import optimise

    result = optimise(graph)
    if args.explain_opt:
        print(result.explain(), end="")
    return result.graph


def _write_potential(module: object, args: argparse.Namespace) -> Path:
    from geoc.backends.torch_fx.potential import export_potential

    return export_potential(module, args.output, spec=args.spec)  # type: ignore[arg-type]


def run_compile(args: argparse.Namespace) -> int:
    """Type, prove and lower the spec; emit the module folder, its code, the IR or DOT."""
    if args.emit in ("ir", "dot"):
        graph = _lowered_graph(args)
        text = graph.to_json() + "\n" if args.emit == "ir" else graph.to_dot()
        return _emit_text(args, text, "ir.json" if args.emit == "ir" else "graph.dot")
    from geoc.backends.torch_fx.api import compile as lower_to_fx
    from geoc.backends.torch_fx.export import generated_source, write_folder
    from geoc.backends.torch_fx.saving import add_build

    module = lower_to_fx(  # from the spec itself, so the folder records how to rebuild it
        args.spec,
        param_values(args.param),
        model=args.model,
        seed=args.seed,
        device=args.device,
        tp_algorithm=args.tp_algorithm,
        validate=args.validate,
        optimize=args.optimize,
        sphere_grid=args.sphere_grid,
    )
    if args.explain_opt:  # the rewrites the module was lowered with
        from geoc.optimize import explain

        print(explain(module.meta["geoc_rewrites"]), end="")
    if args.emit == "code":
        return _emit_text(args, generated_source(module, args.spec), "module.py")
    if args.potential and not args.output:
        raise GeoError(
            Diagnostic("GEO191", "`--potential` writes a folder", help="give it with `-o DIR`")
        )
    if args.output:
        folder = _write_potential(module, args) if args.potential else None
        folder = folder or write_folder(module, args.output, args.spec, add_build(module))
        print(f"geoc: wrote {folder}", file=sys.stderr)
    _summary(module.meta["geoc_ir"], module)
    return EXIT_OK


def _emit_text(args: argparse.Namespace, text: str, file_name: str) -> int:
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    Path(args.output).mkdir(parents=True, exist_ok=True)
    target = Path(args.output) / file_name
    write_atomically(target, text.encode("utf-8"))
    print(f"geoc: wrote {target}", file=sys.stderr)
    return EXIT_OK


def _summary(graph, module) -> None:
    count = sum(p.numel() for p in module.parameters())
    ports = lambda ps: ", ".join(f"{p.name}: {p.type}" for p in ps.values())  # noqa: E731
    print(f"{graph.name}: {len(graph)} IR nodes, {count:,} parameters")
    print(f"  symmetry  {graph.symmetry}")
    for domain in graph.domains:
        print(f"  domain    {domain}")
    print(f"  inputs    {ports(graph.inputs)}")
    print(f"  outputs   {ports(graph.outputs)}")


def run_check(args: argparse.Namespace) -> int:
    """The static verdict, then (unless ``--static``) numeric equivariance in float64."""
    graph = _graph(args)
    broken = "; ".join(map(str, graph.broken))
    declared = f"; declared {graph.declared}, {broken}" if graph.broken else ""
    print(f"static: `{graph.name}` is equivariant under {graph.group} by its type rules "
          f"({len(graph)} IR nodes, 0 violations){declared}")  # fmt: skip
    if args.static:
        return EXIT_OK
    import torch

    from geoc.backends.torch_fx.api import compile as lower_to_fx
    from geoc.backends.torch_fx.verify import check_module

    module = lower_to_fx(
        graph,
        seed=args.seed,
        dtype=torch.float64,
        tp_algorithm=args.tp_algorithm,
        optimize=args.optimize,
        sphere_grid=args.sphere_grid,
    )
    report = check_module(
        module, trials=args.trials, seed=args.seed, graphs=args.graphs, atol=args.atol
    )
    print(report.render().rstrip("\n"))
    if args.json:
        write_atomically(Path(args.json), (json.dumps(report.to_json(), indent=2) + "\n").encode())
    return EXIT_OK if report.passed else EXIT_ERROR


# ---------------------------------------------------------------------------------------------
# The command table: name -> (one-line help, argument definitions, handler).

SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {
    "specs": ("list the built-in specs", _no_arguments, run_specs),
    "explain": ("explain a diagnostic code", _explain_arguments, run_explain),
    "fmt": ("rewrite .geo files in the canonical layout", fmt_arguments, run_fmt),
    "compile": ("compile a spec to a torch.fx module", _compile_arguments, run_compile),
    "check": ("check a spec's types and equivariance", _check_arguments, run_check),
    "lsp": ("run the language server over stdio (docs/editor.md)", lsp_arguments, run_lsp),
    "graph": ("draw a spec's typed IR as SVG (docs/graph.md)", graph_arguments, run_graph),
}


__all__ = ["build_parser", "main", "parse_overrides"]

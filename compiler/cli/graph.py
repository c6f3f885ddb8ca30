"""``geoc graph SPEC -o model.svg``: a picture of the typed IR (docs/graph.md).

Blocks become clusters, values are labelled with their feature types, edges follow the data.
``--check`` runs ``geoc check``'s numeric check first (torch) and marks the first value that
breaks its law; ``--report FILE`` marks the one a saved ``geoc check --json`` report names.
Graphviz's ``dot`` draws the SVG when it is installed, :mod:`geoc.graph_svg` otherwise.

``python -m geoc.graph_svg DIR`` writes one SVG per built-in spec into ``DIR`` (docs/graphs),
always with the pure-Python layout so the files do not depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from geoc.cache import write_atomically
from geoc.cli.arguments import in_range
from geoc.cli.errors import EXIT_ERROR, EXIT_OK
from geoc.diagnostics import Diagnostic, GeoError
from geoc.graph_picture import Mark, Picture, picture, to_dot
from geoc.ir import Graph

LAYOUTS = ("auto", "graphviz", "python")
GRAPHVIZ_TIMEOUT_S = 120
TRIALS_MAX = 10_000  # as `geoc check --trials`


def graph_arguments(parser: argparse.ArgumentParser) -> None:
    from geoc.cli import _optimize_argument, _spec_arguments  # the shared spec options

    _spec_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="the SVG (or DOT) to write "
                        "(default: stdout)")  # fmt: skip
    parser.add_argument(
        "--format", choices=("svg", "dot"), default="svg", help="svg (default) or the DOT text"
    )
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="auto",
        help="graphviz: `dot -Tsvg`; python: the built-in layered layout; auto: Graphviz when "
        "`dot` is on PATH (default)",
    )  # fmt: skip
    found = parser.add_mutually_exclusive_group()
    found.add_argument(
        "--check", action="store_true",
        help="run the numeric check (as `geoc check`) and mark the first value that breaks its "
        "law; exit 1 if the check fails (the picture is written all the same)",
    )  # fmt: skip
    found.add_argument(
        "--report", metavar="FILE",
        help="mark the value a `geoc check --json FILE` report blames",
    )  # fmt: skip
    parser.add_argument(
        "--trials", type=in_range("--trials", 1, TRIALS_MAX), default=3, metavar="N",
        help="with --check: sampled group elements (default 3)",
    )  # fmt: skip
    _optimize_argument(parser)


def run_graph(args: argparse.Namespace) -> int:
    """Draw the spec's IR; with ``--check``, the IR the check ran and its verdict."""
    from geoc.cli.arguments import param_values

    params = param_values(args.param)
    blocks = block_names(args.spec)
    graph, mark, passed = _graph(args, params)
    pic = picture(graph, blocks, mark)
    text = to_dot(pic) if args.format == "dot" else draw(pic, args.layout)
    _write(args.output, text)
    return EXIT_OK if passed else EXIT_ERROR


def block_names(spec: str) -> list[str]:
    """The blocks the spec defines or imports: the clusters of the picture."""
    from geoc.grammar.parser import parse
    from geoc.pipeline import resolve_source
    from geoc.program import load_program

    source = resolve_source(spec)
    return list(load_program(parse(source.text, source.file), source.text, source.path).blocks)


def proven_graph(spec: str, params: dict[str, Any], model: str | None, optimize: str) -> Graph:
    """The IR as ``geoc compile --emit dot`` shows it (rewritten unless ``optimize`` is none)."""
    from geoc.pipeline import frontend

    graph = frontend(spec, params, model)
    if optimize == "none":
        return graph
    from geoc.optimize import optimise

    return optimise(graph).graph


def _graph(args: argparse.Namespace, params: dict[str, Any]) -> tuple[Graph, Mark | None, bool]:
    if args.check:
        return _checked(args, params)
    graph = proven_graph(args.spec, params, args.model, args.optimize)
    return graph, (read_report(Path(args.report), graph) if args.report else None), True


def _checked(args: argparse.Namespace, params: dict[str, Any]) -> tuple[Graph, Mark | None, bool]:
    """Compile in float64 and check as ``geoc check`` does; the picture is of the IR checked."""
    import torch

    from geoc.backends.torch_fx.api import compile as lower_to_fx
    from geoc.backends.torch_fx.verify import check_module
    from geoc.pipeline import frontend, resolve_source

    graph = frontend(args.spec, params, args.model)
    module = lower_to_fx(graph, seed=args.seed, dtype=torch.float64, optimize=args.optimize)
    source = resolve_source(args.spec)
    report = check_module(
        module, trials=args.trials, seed=args.seed, sources={source.file: source.text}
    )
    print(report.render().rstrip("\n"), file=sys.stderr)
    fail = report.first_failure
    mark = Mark(fail.node, failure_note(fail.to_json())) if fail else None
    return module.meta["geoc_ir"], mark, report.passed


def failure_note(fail: dict[str, Any]) -> str:
    """The header line of a marked picture, from a check report's ``first_failure``."""
    return (
        f"geoc check: first value that breaks its law: {fail['node']} ({fail['op']}) at "
        f"{fail['location']}, not `{fail['type']}`; relative error {fail['rel_error']:.1e}"
    )


def read_report(path: Path, graph: Graph) -> Mark | None:
    """The value a ``geoc check --json`` report blames (None when the check passed)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _bad_report(path, f"cannot read it: {err}") from None
    fail = doc.get("first_failure", ...) if isinstance(doc, dict) else ...
    if fail is ... or not (fail is None or _is_failure(fail)):
        raise _bad_report(path, "it is not a `geoc check --json` report")
    if doc.get("model") != graph.name:
        raise _mismatch(path, f"it checked model `{doc.get('model')}`, not `{graph.name}`")
    if fail is None:
        return None
    edge_sets = {d.axis for d in graph.more if d.edges is not None} | {"edges"}
    if fail["node"] not in graph.g and fail["node"] not in edge_sets:
        raise _mismatch(path, f"the IR has no value `{fail['node']}`")
    return Mark(fail["node"], failure_note(fail))


def _is_failure(fail: object) -> bool:
    keys = {"node": str, "op": str, "type": str, "location": str, "rel_error": (int, float)}
    return isinstance(fail, dict) and all(isinstance(fail.get(k), t) for k, t in keys.items())


def _bad_report(path: Path, why: str) -> GeoError:
    return GeoError(Diagnostic("GEO636", f"bad check report `{path}`: {why}",
                               help="write one with `geoc check SPEC --json FILE`"))  # fmt: skip


def _mismatch(path: Path, why: str) -> GeoError:
    return GeoError(
        Diagnostic(
            "GEO637",
            f"check report `{path}` does not belong to this picture: {why}",
            help="draw the spec, parameters and `--optimize` level the report was checked with",
        )
    )


def draw(pic: Picture, layout: str = "auto") -> str:
    """The SVG: Graphviz when asked for or found (``auto``), else the built-in layout."""
    from geoc.graph_svg import render

    dot = shutil.which("dot") if layout != "python" else None
    if layout == "graphviz" and dot is None:
        raise GeoError(Diagnostic("GEO509", "`--layout graphviz`: no `dot` on PATH",
                                  help="install Graphviz, or use `--layout python`"))  # fmt: skip
    if dot is None:
        return render(pic)
    done = subprocess.run(
        [dot, "-Tsvg"], input=to_dot(pic), capture_output=True, text=True,
        timeout=GRAPHVIZ_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        why = f"Graphviz failed: {done.stderr.strip()[:400]}"
        raise GeoError(Diagnostic("GEO509", why, help="use `--layout python` instead"))
    return done.stdout


def _write(output: str | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text.encode("utf-8"))
    except OSError as err:
        raise GeoError(Diagnostic("GEO508", f"cannot write `{target}`: {err.strerror or err}",
                                  help="choose a writable path with `-o`")) from None  # fmt: skip
    print(f"geoc: wrote {target}", file=sys.stderr)


def write_builtin_pictures(folder: Path) -> list[Path]:
    """One SVG per built-in spec (default parameters, built-in layout) into ``folder``."""
    from geoc.catalog import builtin_specs
    from geoc.graph_svg import render

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in builtin_specs():
        graph = proven_graph(spec.name, {}, None, "ir")
        target = folder / f"{spec.name}.svg"
        write_atomically(target, render(picture(graph, block_names(spec.name))).encode())
        written.append(target)
    return written

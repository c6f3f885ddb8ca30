"""``geoc fmt``: rewrite .geo files in the canonical layout (``--check``, ``--diff``, ``-`` for
stdin); every file is written atomically, so a failure leaves the original in place."""

from __future__ import annotations

import argparse
import difflib
import enum
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from geoc.cache import write_atomically
from geoc.cli.errors import EXIT_ERROR, EXIT_OK, print_error
from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar.parser import decode_source, read_source

STDIN = "-"


def fmt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="files or folders of .geo files; '-' for stdin"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file would change"
    )
    parser.add_argument(
        "--diff", action="store_true", help="write nothing; print a unified diff of the changes"
    )


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    FAILED = "failed"


def run_fmt(args: argparse.Namespace) -> int:
    from geoc.grammar.formatter import format_source  # only `fmt` needs the formatter

    paths = list(_expand_paths(args.files))
    outcomes = [_fmt_one(path, args, format_source) for path in paths]
    if any(path != STDIN for path in paths):
        _fmt_summary(outcomes, args.check or args.diff)
    failed = Outcome.FAILED in outcomes
    would_change = args.check and Outcome.CHANGED in outcomes
    return EXIT_ERROR if failed or would_change else EXIT_OK


def _expand_paths(args: Iterable[str]) -> Iterable[str]:
    """Files as given; a folder stands for the .geo files below it (hidden folders skipped)."""
    for arg in args:
        if arg != STDIN and os.path.isdir(arg):
            found = (p for p in Path(arg).rglob("*.geo") if p.is_file() and not _hidden(p, arg))
            yield from sorted(str(p) for p in found)
        else:
            yield arg


def _hidden(path: Path, root: str) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _fmt_one(path: str, args: argparse.Namespace, format_source: Callable[..., str]) -> Outcome:
    display = "<stdin>" if path == STDIN else path
    try:
        text = _read_stdin() if path == STDIN else read_source(path)
        formatted = format_source(text, display)
    except GeoError as err:
        print_error(err)
        return Outcome.FAILED
    dry_run = args.check or args.diff
    if path == STDIN and not dry_run:
        sys.stdout.write(formatted)  # a filter prints its result, changed or not
    if formatted == text:
        return Outcome.UNCHANGED
    if args.diff:
        sys.stdout.writelines(_unified_diff(text, formatted, display))
    if dry_run:
        print(f"would reformat {display}", file=sys.stderr)
    elif path != STDIN:
        return _write_change(path, formatted)
    return Outcome.CHANGED


def _write_change(path: str, formatted: str) -> Outcome:
    try:
        write_atomically(path, formatted.encode("utf-8"))
    except OSError as err:
        print_error(_write_error(path, err))
        return Outcome.FAILED
    print(f"reformatted {path}", file=sys.stderr)
    return Outcome.CHANGED


def _read_stdin() -> str:
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
    return decode_source(data, "<stdin>")


def _unified_diff(before: str, after: str, name: str) -> Iterable[str]:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} (original)",
        tofile=f"{name} (formatted)",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _write_error(path: str, err: OSError) -> GeoError:
    reason = err.strerror or type(err).__name__
    return GeoError(
        Diagnostic(
            "GEO192",
            f"cannot write `{path}`: {reason}",
            notes=("the original file is unchanged",),
            help="check that the file and its folder are writable and the disk is not full",
        )
    )


def _fmt_summary(outcomes: list[Outcome], dry_run: bool) -> None:
    changed_word = "would be reformatted" if dry_run else "reformatted"
    counts = [
        (outcomes.count(Outcome.CHANGED), changed_word),
        (outcomes.count(Outcome.UNCHANGED), "unchanged"),
        (outcomes.count(Outcome.FAILED), "failed"),
    ]
    parts = [f"{_plural(n, 'file')} {word}" for n, word in counts if n]
    print(", ".join(parts) if parts else "no .geo files found", file=sys.stderr)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")

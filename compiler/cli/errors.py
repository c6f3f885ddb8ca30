"""How the command line ends: exit codes, diagnostics on stderr, and a bug as exit 3 (never a
traceback unless ``GEOC_DEBUG=1``)."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

import geoc
from geoc.diagnostics import DEFAULT_MAX_ERRORS, GeoError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

DEBUG_ENV = "GEOC_DEBUG"
ISSUES_HINT = "please report this as a bug, with the command and the spec that caused it"


def print_error(err: GeoError, max_errors: int = DEFAULT_MAX_ERRORS) -> None:
    text = err.render(max_errors, hint="use --max-errors to see them")
    print(text, file=sys.stderr, end="")


def internal_error(err: BaseException) -> int:
    print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
    if os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exc(file=sys.stderr)
    else:
        print(f"geoc {geoc.__version__}: {ISSUES_HINT}", file=sys.stderr)
        print(f"(set {DEBUG_ENV}=1 to print the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


def silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())

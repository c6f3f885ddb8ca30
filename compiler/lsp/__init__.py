"""``geoc lsp``: a language server for .geo files over stdio (JSON-RPC 2.0, LSP framing).

It publishes geoc's diagnostics as the user types, shows the inferred feature type of a value
and the signature of an operator on hover, jumps to blocks, imports and bindings, and formats
with ``geoc fmt``'s formatter (docs/editor.md). Modules: :mod:`~geoc.lsp.protocol` (framing),
:mod:`~geoc.lsp.server` (the loop and handlers), :mod:`~geoc.lsp.analysis` (the pipeline on
the editor's text), :mod:`~geoc.lsp.report` (diagnostics), :mod:`~geoc.lsp.features` (hover,
definition, formatting), :mod:`~geoc.lsp.typed` (value types), :mod:`~geoc.lsp.positions`.
"""

from __future__ import annotations

import argparse


def lsp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdio", action="store_true", help="talk over stdin/stdout (the default and only way)"
    )


def run_lsp(args: argparse.Namespace) -> int:
    from geoc.lsp.server import run_lsp as serve_stdio  # the server's modules load on use

    return serve_stdio()

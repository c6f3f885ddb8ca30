"""geoc's diagnostics as LSP diagnostics: the range from the span, the stable code, the
severity, and the message with its label, notes and help.

A diagnostic in another file (a block of an imported file that fails where this document
calls it) is shown at the import that brings the file in, its message naming the place, with
that place as related information; one without a span sits at the document's start.
"""

from __future__ import annotations

from typing import Any

from geoc.diagnostics import Diagnostic, Severity, Span
from geoc.grammar import ast
from geoc.lsp.analysis import Analysis, Document, uri_of
from geoc.lsp.positions import Lines

Json = dict[str, Any]

SEVERITY = {Severity.ERROR: 1, Severity.WARNING: 2}
SOURCE = "geoc"


def lsp_diagnostics(analysis: Analysis, doc: Document) -> list[Json]:
    """Every diagnostic of ``analysis`` for the document ``doc``, in source order."""
    lines = Lines.of(analysis.text)
    found = [_convert(d, analysis, doc, lines) for d in analysis.diagnostics]
    if analysis.internal:
        found.append(_internal(analysis.internal, lines))
    return found


def _convert(diag: Diagnostic, analysis: Analysis, doc: Document, lines: Lines) -> Json:
    span = diag.span
    out: Json = {"severity": SEVERITY[diag.severity], "code": diag.code, "source": SOURCE}
    message = _message(diag)
    if span is None or span.file == doc.file:
        out["range"] = lines.range(span)
    else:  # a diagnostic in an imported file
        out["range"] = lines.range(_import_span(analysis, span))
        message = f"in {span}: {message}"
        related = _related(analysis, span, diag.message)
        if related is not None:
            out["relatedInformation"] = [related]
    out["message"] = message
    return out


def _message(diag: Diagnostic) -> str:
    parts = [diag.message + (f" ({diag.label})" if diag.label else "")]
    parts.extend(f"note: {note}" for note in diag.notes)
    if diag.help:
        parts.append(f"help: {diag.help}")
    return "\n".join(parts)


def _import_span(analysis: Analysis, span: Span) -> Span | None:
    """The import of the main file whose name ends the other file's name (the first import
    otherwise: the file came in through it or one of its own imports)."""
    imports = analysis.module.imports if analysis.module is not None else []
    stem = span.file.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".geo")
    named = [i for i in imports if _stem(i) == stem]
    chosen = named or imports
    return chosen[0].span if chosen else None


def _stem(item: ast.Import) -> str:
    return item.path.value.rsplit("/", 1)[-1].removesuffix(".geo")


def _related(analysis: Analysis, span: Span, message: str) -> Json | None:
    uri, text = uri_of(span.file), analysis.sources.get(span.file)
    if uri is None or text is None:
        return None
    location = {"uri": uri, "range": Lines.of(text).range(span)}
    return {"location": location, "message": message}


def _internal(what: str, lines: Lines) -> Json:
    return {
        "range": lines.range(None),
        "severity": SEVERITY[Severity.ERROR],
        "code": "GEO631",
        "source": SOURCE,
        "message": f"internal error while checking this spec: {what}\n"
        "help: a bug in geoc, not in the spec: please report it with the spec",
    }

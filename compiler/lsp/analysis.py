"""What the server knows of a document: geoc's own pipeline run on the editor's text.

The text is parsed under the document's path, so its imports resolve relative to its folder
exactly as ``geoc check`` resolves them (the imported files are read from disk), and every
model of the file goes through :func:`geoc.pipeline.middle_end`: the diagnostics are the ones
the command line prints. A file of blocks only (a library) is parsed and its imports loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from geoc.budget import RAISE_HELP, BudgetExceeded
from geoc.catalog import BUILTIN_PREFIX, SPEC_SUFFIX, builtin_spec
from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast
from geoc.grammar.parser import parse
from geoc.program import Program, load_program


@dataclass(frozen=True)
class Document:
    """An open document: its URI, the file name geoc's spans carry, its path if it is a file."""

    uri: str
    file: str
    path: Path | None

    @classmethod
    def of(cls, uri: str) -> Document:
        path = path_of(uri)
        return cls(uri, str(path) if path is not None else uri, path)


@dataclass
class Analysis:
    """One version of a document, checked: the tree and program when they could be built, and
    every diagnostic (with the sources they cite)."""

    text: str
    module: ast.Module | None = None
    program: Program | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    internal: str = ""  # a bug in geoc met while checking (its one-line description)


def analyse(doc: Document, text: str) -> Analysis:
    """Parse, load imports and check every model of ``text`` as ``doc``."""
    result = Analysis(text)
    try:
        result.module = parse(text, doc.file)
        result.program = load_program(result.module, text, doc.path)
        result.sources = dict(result.program.sources)
        for model in result.module.models:
            _check_model(result, result.program, model.name.id)
    except GeoError as err:
        _add(result, err)
    except Exception as err:  # a bug in geoc: shown as GEO631, the server goes on
        result.internal = f"{type(err).__name__}: {err}"
    return result


def _check_model(result: Analysis, program: Program, model: str) -> None:
    from geoc.pipeline import middle_end

    try:
        middle_end(program, None, model)
    except GeoError as err:
        _add(result, err)
    except BudgetExceeded as err:  # as the command line reports one raised past a layer
        _add(result, GeoError(Diagnostic("GEO520", str(err), help=RAISE_HELP)))


def _add(result: Analysis, err: GeoError) -> None:
    known = set(result.diagnostics)
    result.diagnostics.extend(d for d in err.diagnostics if d not in known)
    result.sources.update(err.sources)


# --- URIs and files -------------------------------------------------------------------------


def path_of(uri: str) -> Path | None:
    """The local path of a ``file:`` URI (None for another scheme, such as ``untitled:``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(url2pathname(unquote(parsed.path)))


def uri_of(file: str) -> str | None:
    """The ``file:`` URI of a file name a span carries: a path, or a built-in spec
    (``<builtin>/egnn.geo``) where it is installed as a file."""
    if file.startswith(f"{BUILTIN_PREFIX}/"):
        spec = builtin_spec(file[len(BUILTIN_PREFIX) + 1 :].removesuffix(SPEC_SUFFIX))
        if spec is None or not os.path.isfile(spec.path):
            return None
        file = spec.path
    elif not os.path.isabs(file):
        return None
    return Path(file).as_uri()

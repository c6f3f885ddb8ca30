"""A spec and its imports: the blocks and models visible to the elaborator.

The import rule: an ``import "PATH"`` resolves relative to the folder of the importing file,
and the file it names must lie inside the *root*, the folder of the top spec, once every
symbolic link on the way is resolved (an absolute path, a ``..`` that climbs out, or a link
that points out is GEO206). A spec given as text has the working folder as its root. A path
that is not a file may name a built-in spec (``import "egnn"``); a built-in spec imports only
built-in specs, never a file. Missing files and cycles are diagnostics too. Importing only
parses: no spec text is ever evaluated as Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from geoc.catalog import BUILTIN_PREFIX, builtin_spec
from geoc.diagnostics import Diagnostic, GeoError
from geoc.grammar import ast
from geoc.grammar.parser import parse, read_source


@dataclass
class Program:
    main: ast.Module
    blocks: dict[str, ast.Block] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def model(self, name: str | None) -> ast.Model:
        """The model to compile: the one named, or the only one in the main file."""
        models = self.main.models
        if name is not None:
            found = [m for m in models if m.name.id == name]
            if found:
                return found[0]
        elif len(models) == 1:
            return models[0]
        names = ", ".join(f"`{m.name.id}`" for m in models) or "none"
        what = f"no model named `{name}`" if name else "choose the model to compile"
        if not models:
            what = "the spec defines no model"
        raise GeoError(
            Diagnostic(
                "GEO210",
                what,
                self.main.span if not models else models[0].name.span,
                help=f"models in this file: {names}; pick one with `--model NAME`",
            ),
            self.sources,
        )


def load_program(module: ast.Module, text: str, path: Path | None) -> Program:
    """Collect the blocks of ``module`` and of everything it imports (transitively)."""
    program = Program(main=module, sources={module.span.file: text})
    root = _root(path, module.span.file)
    _collect(program, module, path, root, stack=[_key(path, module.span.file)])
    return program


def _root(path: Path | None, file: str) -> Path | None:
    """The folder no import may leave (None for a built-in spec, which imports no file)."""
    if path is not None:
        return path.absolute().parent.resolve()
    return None if file.startswith(f"{BUILTIN_PREFIX}/") else Path.cwd().resolve()


def _key(path: Path | None, file: str) -> str:
    return str(path.resolve()) if path is not None else file


def _collect(
    program: Program, module: ast.Module, path: Path | None, root: Path | None, stack: list[str]
) -> None:
    for item in module.items:
        if isinstance(item, ast.Block):
            _add_block(program, item)
        elif isinstance(item, ast.Import):
            sub_path, sub_module = _load_import(program, item, path, root, stack)
            sub_root = root if sub_path is not None else None  # a built-in imports built-ins
            sub_stack = [*stack, _key(sub_path, sub_module.span.file)]
            _collect(program, sub_module, sub_path, sub_root, sub_stack)


def _add_block(program: Program, block: ast.Block) -> None:
    from geoc.ops import lookup

    name = block.name.id
    if name in program.blocks or lookup(name) is not None:
        what = "another block" if name in program.blocks else "a built-in operator"
        raise GeoError(
            Diagnostic(
                "GEO209",
                f"block `{name}` has the same name as {what}",
                block.name.span,
                label="duplicate name",
                help="rename the block",
            ),
            program.sources,
        )
    program.blocks[name] = block


def _load_import(
    program: Program, item: ast.Import, importer: Path | None, root: Path | None, stack: list[str]
) -> tuple[Path | None, ast.Module]:
    """The file (or built-in spec) ``item`` names, read and parsed; ``importer`` is the
    importing file (None for a spec given as text or a built-in one)."""
    found = _import_file(program, item, importer, root) if root is not None else None
    if found is not None:
        text, file, sub_path = read_source(found), str(found), found
    else:
        builtin = _builtin(item.path.value)
        if builtin is None:
            help_text = "a built-in spec imports only built-in specs" if root is None else _HELP
            raise _import_error(program, item, "GEO205", "was not found", help_text)
        file, text, sub_path = builtin.display, builtin.read_text(), None
    if _key(sub_path, file) in stack:
        raise _import_error(
            program,
            item,
            "GEO207",
            "imports a file that imports this one",
            "move the shared blocks into a third file",
        )
    program.sources[file] = text
    return sub_path, parse(text, file)


def _import_file(
    program: Program, item: ast.Import, importer: Path | None, root: Path
) -> Path | None:
    """The real path of the file ``item`` names, checked to lie inside ``root``; None when no
    file has that name (it may name a built-in spec)."""
    name = item.path.value
    if Path(name).is_absolute():
        raise _escape(program, item, "is an absolute path", root)
    folder = importer.absolute().parent if importer is not None else root
    try:
        resolved = (folder / name).resolve(strict=False)
        inside = resolved.is_relative_to(root)
        exists = resolved.exists()
    except (OSError, RuntimeError, ValueError) as err:  # a link loop, a name too long, a NUL
        what = f"cannot be resolved ({_reason(err)})"
        raise _import_error(program, item, "GEO205", what, _HELP) from None
    if not inside:
        lexical = Path(os.path.normpath(folder.resolve() / name))
        what = "climbs out of the spec folder"
        if lexical.is_relative_to(root):  # the words stay inside: a link points out
            what = "is a symbolic link to a file outside the spec folder"
        raise _escape(program, item, what, root)
    if resolved.is_file():
        return resolved
    if exists and _builtin(name) is None:  # a folder, a pipe, a device
        raise _import_error(program, item, "GEO205", "is not a regular file", _HELP)
    return None


_HELP = "give a path to a .geo file relative to this file, or a built-in spec name"


def _builtin(name: str):
    """The built-in spec an import names (a bare name such as ``egnn``), if any."""
    return builtin_spec(name) if "/" not in name else None


def _reason(err: Exception) -> str:
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return "a symbolic link loop" if isinstance(err, RuntimeError) else str(err)


def _escape(program: Program, item: ast.Import, what: str, root: Path) -> GeoError:
    return _import_error(
        program,
        item,
        "GEO206",
        what,
        f"imports must stay inside `{root}`, the folder of the spec being compiled: copy the "
        "file into it",
    )


def _import_error(
    program: Program, item: ast.Import, code: str, what: str, help_text: str
) -> GeoError:
    return GeoError(
        Diagnostic(code, f'import "{item.path.value}" {what}', item.path.span, help=help_text),
        program.sources,
    )

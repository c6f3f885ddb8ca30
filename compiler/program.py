"""A spec and its imports: the blocks and models visible to the elaborator.

Imports are resolved relative to the importing file and must stay inside its folder tree; a
path that does not exist may name a built-in spec (``import "egnn"``). Missing files, paths
that escape, and cycles are diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from geoc.catalog import builtin_spec
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
    _collect(program, module, path, stack=[_key(path, module.span.file)])
    return program


def _key(path: Path | None, file: str) -> str:
    return str(path.resolve()) if path is not None else file


def _collect(program: Program, module: ast.Module, path: Path | None, stack: list[str]) -> None:
    for item in module.items:
        if isinstance(item, ast.Block):
            _add_block(program, item)
        elif isinstance(item, ast.Import):
            sub_path, sub_module = _load_import(program, item, path, stack)
            _collect(program, sub_module, sub_path, [*stack, _key(sub_path, sub_module.span.file)])


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
    program: Program, item: ast.Import, importer: Path | None, stack: list[str]
) -> tuple[Path | None, ast.Module]:
    base = importer.parent if importer is not None else Path.cwd()
    target = Path(item.path.value)
    resolved = (base / target).resolve()
    if target.is_absolute() or not resolved.is_relative_to(base.resolve()):
        raise _import_error(
            program,
            item,
            "GEO206",
            "leaves the importing file's folder",
            "keep imported files inside the spec's folder",
        )
    if resolved.is_file():
        text, file, sub_path = read_source(resolved), str(resolved), resolved
    else:
        builtin = builtin_spec(item.path.value) if "/" not in item.path.value else None
        if builtin is None:
            raise _import_error(
                program,
                item,
                "GEO205",
                "was not found",
                "give a path relative to this file, or a built-in spec name",
            )
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


def _import_error(
    program: Program, item: ast.Import, code: str, what: str, help_text: str
) -> GeoError:
    return GeoError(
        Diagnostic(code, f'import "{item.path.value}" {what}', item.path.span, help=help_text),
        program.sources,
    )

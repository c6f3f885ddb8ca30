"""Save a trained model and load it back: ``geoc.save(module, DIR)`` and ``geoc.load(DIR)``.

``geoc.compile`` records how it built a module (the spec's text, model, parameters, seed,
``tp_algorithm``, dtype, ``validate``, ``given_edges``, ``optimize``) in
``module.meta["geoc_build"]``.
``geoc.save`` writes the exported folder of export.py from the module's *current* weights,
with that record in ``manifest.json`` (``"build"``) and the spec's text in ``spec.geo``: the
folder's own ``load()`` needs torch only, and ``geoc.load`` compiles the recorded spec again
and loads the saved weights into it, so that it computes exactly what the saved module did.

The same record makes a compiled module picklable (``torch.save(module)``, ``pickle``): fx's
own pickling traces the generated code again, which the geoc kernels do not survive, so a
compiled module pickles as its build record and state dict and is compiled again on loading.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import fx

from geoc.backends.torch_fx.compiled import compile_calls, is_compiled
from geoc.backends.torch_fx.export import generated_source, weights_state, write_folder
from geoc.diagnostics import Diagnostic, GeoError

#: Files of a saved folder that ``geoc.load`` reads besides the exported model.
SPEC_FILE = "spec.geo"


def build_record(
    source: str | None, file: str, model: str | None, params: dict[str, Any] | None, **options
) -> dict[str, Any]:
    """What ``geoc.compile`` was given, enough to compile the same module again (``source``
    None: it was given an IR graph, e.g. from ``geoc.Builder``, which has no text)."""
    dtype = options.pop("dtype")
    return {
        "source": source,
        "file": file,
        "model": model,
        "params": dict(params or {}),
        "dtype": None if dtype is None else str(dtype).removeprefix("torch."),
        **options,
    }


def remember_build(module: fx.GraphModule, record: dict[str, Any]) -> None:
    """Keep ``record`` on ``module`` and make the module pickle through it.

    Every ``fx.GraphModule`` has a class of its own, so the hooks set here change this
    module's pickling and copying only."""
    module.meta["geoc_build"] = record
    cls = type(module)
    cls.__reduce__ = _reduce  # type: ignore[method-assign]
    cls.__deepcopy__ = _deepcopy  # type: ignore[method-assign]


def _reduce(module: fx.GraphModule) -> tuple:
    record = module.meta["geoc_build"]
    if record["source"] is None:
        raise TypeError(
            "this geoc module was compiled from an IR graph (no spec text), so it cannot be "
            "pickled; save its weights with torch.save(module.state_dict()), or write it with "
            "geoc.save(module, DIR) and load it without geoc from the folder's load()"
        )
    return (_unpickle, (record, weights_state(module), module.training))


def _unpickle(record: dict[str, Any], state: dict[str, torch.Tensor], training: bool):
    module = _rebuild(record, state)
    return module.train(training)


def _deepcopy(module: fx.GraphModule, memo: dict) -> fx.GraphModule:
    copied = fx.GraphModule.__deepcopy__(module, memo)  # an eager module: calls not compiled
    remember_build(copied, copy.deepcopy(module.meta["geoc_build"], memo))
    return compile_calls(copied) if is_compiled(module) else copied


def _rebuild(record: dict[str, Any], state: dict[str, torch.Tensor]) -> fx.GraphModule:
    """The module ``record`` describes, holding the tensors of ``state``."""
    from geoc.backends.torch_fx.api import compile

    dtype = record["dtype"]
    module = compile(
        record["source"],
        record["params"],
        record["seed"],
        model=record["model"],
        dtype=None if dtype is None else getattr(torch, dtype),
        tp_algorithm=record["tp_algorithm"],
        validate=record["validate"],
        given_edges=record["given_edges"],
        optimize=record.get("optimize", "ir"),  # folders saved before the option: the default
        sphere_grid=record.get("sphere_grid"),
    )
    module.meta["geoc_build"]["file"] = record["file"]  # the spec's name, not `<string>`
    # The saved tensors themselves, with their dtypes and devices: the module may have been
    # moved after compiling (`.double()`, `.cuda()`), and its tables keep dtypes of their own.
    module.load_state_dict(state, assign=True)
    return module


def save(module: fx.GraphModule, directory: str | Path) -> Path:
    """Write ``module`` (compiled by ``geoc.compile``, trained or not) with its current
    weights to the folder ``directory``, atomically: ``load()`` of the folder gives it back
    without geoc, ``geoc.load(directory)`` gives it back as a geoc module.

    >>> import geoc, tempfile
    >>> model = geoc.compile("egnn", params={"depth": 1})
    >>> folder = geoc.save(model, tempfile.mkdtemp() + "/egnn")
    >>> (folder / "spec.geo").exists(), (folder / "weights.pt").exists()
    (True, True)
    """
    record = _record_of(module)
    return write_folder(module, directory, record["file"], more=add_build(module))


def add_build(module: torch.nn.Module) -> Callable[[Path], None]:
    """What ``write_folder`` adds to a folder so that ``geoc.load`` can compile ``module``
    again: its spec's text and its build record in the manifest (nothing for a module
    compiled from IR, or by another path than ``geoc.compile``)."""
    record = getattr(module, "meta", {}).get("geoc_build")

    def add(folder: Path) -> None:
        if record is None or record["source"] is None:
            return
        (folder / SPEC_FILE).write_text(record["source"], encoding="utf-8")
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["build"] = {k: v for k, v in record.items() if k != "source"}
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    return add


def load(directory: str | Path, device: str | torch.device = "cpu") -> fx.GraphModule:
    """The module ``geoc.save`` wrote to ``directory``, compiled again from its recorded spec
    with the saved weights, on ``device``: its outputs are those of the saved module."""
    folder = Path(directory)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        build = manifest.get("build")
        source = (folder / SPEC_FILE).read_text(encoding="utf-8") if build else None
        saved_code = (folder / "module.py").read_text(encoding="utf-8")
        state = torch.load(folder / "weights.pt", map_location=device, weights_only=True)
    except (OSError, ValueError) as err:
        raise _cannot_load(directory, f"it is not a readable saved model: {err}") from None
    if build is None:
        raise _cannot_load(directory, "its manifest records no spec to compile again")
    try:
        module = _rebuild({**build, "source": source}, state)
    except RuntimeError as err:  # load_state_dict: missing, unexpected or misshapen tensors
        first = str(err).splitlines()[0]
        raise _cannot_load(
            directory, f"its weights do not fit its spec's module: {first}"
        ) from None
    if generated_source(module, manifest.get("spec", build["file"])) != saved_code:
        raise _cannot_load(
            directory,
            f"its spec compiles to a different module with this geoc (saved by geoc "
            f"{manifest.get('geoc_version')})",
        )
    return module


def _record_of(module: torch.nn.Module) -> dict[str, Any]:
    record = getattr(module, "meta", {}).get("geoc_build")
    if record is None:
        raise TypeError(
            f"geoc.save takes a module made by geoc.compile, not a {type(module).__name__}; "
            "save other modules' weights with torch.save(module.state_dict(), PATH)"
        )
    return record


def _cannot_load(directory: str | Path, why: str) -> GeoError:
    return GeoError(
        Diagnostic(
            "GEO505",
            f"cannot load `{directory}` into geoc: {why}",
            help="its own `load()` runs it with torch alone; or compile the spec with "
            "geoc.compile and load the state dict",
        )
    )

"""A spec never runs code, and what geoc writes is plain data and plain Python.

* No path from spec text to ``eval``/``exec``/``pickle``: the compiler's own source never
  calls them; fx does ``exec`` the code it generates, so every name a spec gives (values,
  blocks, inputs, the model) is made safe Python there or refused (GEO117).
* Exported weights load with ``torch.load(weights_only=True)`` and the folder runs on torch
  alone, for every built-in spec.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import NO_GEOC
from paths import REPO as ROOT

from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import write_folder
from geoc.backends.torch_fx.verify.check import draw_sample
from geoc.catalog import builtin_specs
from geoc.diagnostics import GeoError


def set_model(body: str, inputs: str = "input x: 4 x scalar over set", name: str = "M") -> str:
    return f"""model {name}() {{
    symmetry S(set)
    domain   set(set)
    {inputs}
{textwrap.indent(body, "    ")}
}}
"""


# --- no eval, exec or pickle in the compiler -------------------------------------------------

_FORBIDDEN_CALLS = {"eval", "exec", "__import__"}  # (geoc has its own `compile`)
_FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}


def _dangerous(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [n for n in names if n.split(".")[0] in _FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in _FORBIDDEN_CALLS:
                found.append(func.id)
            elif isinstance(func, ast.Attribute) and func.attr == "load":
                keywords = {k.arg: k.value for k in node.keywords}
                unsafe_torch = ast.unparse(func.value) == "torch" and not _is_true(
                    keywords.get("weights_only")
                )
                unsafe_numpy = ast.unparse(func.value) == "np" and _is_true(
                    keywords.get("allow_pickle")
                )
                if unsafe_torch or unsafe_numpy:
                    found.append(ast.unparse(node))
    return found


def _is_true(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


def test_compiler_source_has_no_eval_exec_or_pickle() -> None:
    """Spec text reaches only the parser and the typed IR; a new ``eval`` or unpickling load
    anywhere in the compiler, the grammar or the backend fails this test."""
    files = [p for d in ("compiler", "grammar", "backends") for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 50
    found = {
        str(p.relative_to(ROOT)): bad
        for p in files
        if (bad := _dangerous(ast.parse(p.read_text(encoding="utf-8"))))
    }
    assert found == {}


def test_the_scan_sees_what_it_forbids() -> None:
    code = "import pickle\neval(s)\ntorch.load(f)\nnp.load(f, allow_pickle=True)\n"
    assert len(_dangerous(ast.parse(code))) == 4
    assert _dangerous(ast.parse("torch.load(f, weights_only=True)\nnp.load(f)\n")) == []


def test_malicious_looking_spec_runs_nothing(tmp_path: Path, monkeypatch) -> None:
    """Python in every place spec text can put it: an import path, an activation name, a
    string parameter and a name that is a Python builtin. Each is a diagnostic and nothing
    runs (the marker file is never created)."""
    monkeypatch.chdir(tmp_path)
    payload = "__import__('os').system('touch PWNED')"
    attempts = {
        "GEO205": f'import "{payload}"\n' + set_model("output y: 4 x scalar over set = x"),
        "GEO302": set_model(
            f"y = act(x, {payload.split('(')[0]})\noutput y: 4 x scalar over set = y"
        ),
        "GEO117": set_model(
            "output y: 4 x scalar over set = __import__",
            inputs="input __import__: 4 x scalar over set",
        ),
    }
    for code, text in attempts.items():
        (tmp_path / "evil.geo").write_text(text)
        with pytest.raises(GeoError) as info:
            geoc_compile(tmp_path / "evil.geo")
        assert info.value.codes[0] == code, text
    result = subprocess.run(
        [sys.executable, "-m", "geoc", "compile", "evil.geo", "-p", f"act={payload}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "GEO" in result.stderr
    assert not (tmp_path / "PWNED").exists()


# --- names that Python reserves --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("None", "Python keyword"),
        ("class", "Python keyword"),
        ("self", "uses that name"),
        ("torch", "uses that name"),
        ("type", "uses that name"),
        ("rt_o3", "uses that name"),
    ],
)
def test_input_named_like_python_is_refused_at_the_input(name: str, why: str) -> None:
    text = set_model(
        f"y = act(linear({name}, 4 x scalar), relu)\noutput y: 4 x scalar over set = y",
        inputs=f"input {name}: 4 x scalar over set",
    )
    with pytest.raises(GeoError) as info:
        geoc_compile(text)
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col) == ("GEO117", 4, 5)
    assert why in first.message and first.help


def test_input_named_like_a_domain_argument_is_refused() -> None:
    text = set_model(
        "output y: 4 x scalar over set = batch", inputs="input batch: 4 x scalar over set"
    )
    with pytest.raises(GeoError) as info:
        geoc_compile(text)
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line) == ("GEO117", 4) and "already takes" in first.message


KEYWORD_NAMES = """block lambda(h: 4 x scalar over set) -> 4 x scalar over set {
    training = linear(h, 4 x scalar)
    forward = act(linear(training, 4 x scalar), relu)
    return act(linear(forward, 4 x scalar), tanh)
}
"""


def test_names_python_reserves_compile_run_and_export(tmp_path: Path) -> None:
    """A block's ``return`` value, values called ``training`` and ``forward``, a block called
    ``lambda`` and models called like Python keywords or globals of the exported module:
    parameters get safe attribute names, and each exported folder runs on torch alone with
    the module's result."""
    folders, inputs, expected = [], {}, {}
    for model_name in ["class", "torch", "load", "os", "PARAMETERS"]:
        text = KEYWORD_NAMES + set_model(
            "pass_ = lambda(x)\noutput y: 4 x scalar over set = pass_", name=model_name
        )
        model = geoc_compile(text, seed=5)
        names = [name for name, _ in model.named_parameters()]
        assert "lambda_.return_.linear.weight" in names and "lambda_.training_.weight" in names
        assert "lambda_.forward_.linear.weight" in names and model.training is True
        folder = write_folder(model, tmp_path / f"out_{model_name}", "keywords.geo")
        folders.append(folder)
        inputs[folder.name] = {"x": torch.randn(5, 4)}
        expected[folder.name] = model(**inputs[folder.name])
    torch.testing.assert_close(_exported_outputs(folders, inputs, tmp_path), expected)


# --- exported folders hold data only and run on torch alone ----------------------------------

_LOAD_WITHOUT_GEOC = NO_GEOC + textwrap.dedent("""
    folders, inputs, out = sys.argv[1:-2], sys.argv[-2], sys.argv[-1]
    inputs, results = torch.load(inputs, weights_only=True), {}
    for folder in folders:
        name = folder.rsplit("/", 1)[-1]
        state = torch.load(folder + "/weights.pt", weights_only=True)
        assert all(isinstance(t, torch.Tensor) for t in state.values())
        module = import_folder(folder, name)
        with torch.no_grad():
            results[name] = module.load()(**inputs[name])
    torch.save(results, out)
""")


def _exported_outputs(folders: list[Path], inputs: dict, tmp_path: Path) -> dict:
    torch.save(inputs, tmp_path / "inputs.pt")
    command = [sys.executable, "-c", _LOAD_WITHOUT_GEOC, *map(str, folders)]
    subprocess.run([*command, str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt")], check=True)
    return torch.load(tmp_path / "out.pt", weights_only=True)


def _exports_match(specs: list[str], tmp_path: Path) -> None:
    folders, inputs, expected = [], {}, {}
    for i, spec in enumerate(specs):
        model = geoc_compile(spec, seed=3)
        ir = model.meta["geoc_ir"]
        sample = draw_sample(ir, np.random.default_rng(i), 5, 2, torch.float32)
        folders.append(write_folder(model, tmp_path / "build" / spec, spec))
        inputs[spec] = sample.inputs
        with torch.no_grad():
            expected[spec] = model(**sample.inputs)
    got = _exported_outputs(folders, inputs, tmp_path)
    for spec in specs:  # the same code on the same weights: the same bits
        torch.testing.assert_close(got[spec], expected[spec], rtol=0, atol=0, msg=spec)


def test_exported_weights_load_with_weights_only_and_run_without_geoc(tmp_path: Path) -> None:
    _exports_match(["deepsets", "gcn"], tmp_path)


@pytest.mark.slow
def test_every_builtin_spec_exports_data_only_and_runs_without_geoc(tmp_path: Path) -> None:
    _exports_match([s.name for s in builtin_specs()], tmp_path)

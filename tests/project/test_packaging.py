"""Packaging: the data files ship, the entry points exist, and `import geoc` stays torch-free."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import PurePosixPath

import paths
import pytest

import geoc

ROOT = paths.REPO
SPEC_FILES = {
    "deepsets.geo",
    "dwsnet.geo",
    "egnn.geo",
    "egnn_nbody.geo",
    "emlp_o5.geo",
    "fno.geo",
    "lorentz_mlp.geo",
    "lorentz_tagger.geo",
    "nequip.geo",
    "p4cnn.geo",
    "sfno.geo",
}


def _setuptools() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]


def _source_files() -> dict[str, set[str]]:
    """Each import package of the source tree (a folder with an __init__.py under a
    package-dir root) with the installed paths of its files (modules, specs, grammars)."""
    packages: dict[str, set[str]] = {}
    for name, root in _setuptools()["package-dir"].items():
        for init in (ROOT / root).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / root).parts
            installed = PurePosixPath(*name.split("."), *parts)
            packages[".".join((name, *parts))] = {
                str(installed / f.name)
                for f in init.parent.iterdir()
                if f.suffix in {".py", ".geo", ".lark"} or f.name in {"py.typed", "README.md"}
            }
    return packages


def test_every_package_is_declared():
    """pyproject lists its packages by hand (the source folders are remapped): a new folder
    left out installs nowhere, and only an editable install hides that."""
    assert set(_setuptools()["packages"]) == set(_source_files())


def _resource_names(package: str) -> set[str]:
    return {entry.name for entry in resources.files(package).iterdir()}


def test_specs_package_data():
    assert {*SPEC_FILES, "README.md"} <= _resource_names("geoc.specs")


def test_grammar_package_data():
    assert "geo.lark" in _resource_names("geoc.grammar")
    text = resources.files("geoc.grammar").joinpath("geo.lark").read_text(encoding="utf-8")
    assert "start:" in text


def test_py_typed_marker():
    assert "py.typed" in _resource_names("geoc")


def test_version_matches_metadata():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert declared is not None
    assert geoc.__version__ == declared[1]
    assert geoc.__version__ == importlib.metadata.version("geoc")


def test_console_script():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert {ep.value for ep in scripts if ep.name == "geoc"} == {"geoc.cli:main"}


def test_public_api():
    for name in ("parse", "parse_file", "GeoError", "Diagnostic", "Span"):
        assert name in geoc.__all__
        assert hasattr(geoc, name)


def test_compile_is_loaded_lazily():
    from geoc.backends.torch_fx.api import compile as backend_compile

    assert geoc.compile is backend_compile


_NO_TORCH = """
import pkgutil, sys
import geoc, geoc.grammar
# Every module of the front end and the middle-end: none may pull in torch.
for package in (geoc, geoc.grammar):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            __import__(info.name)
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(",".join(loaded) or "clean")
"""


def test_import_geoc_does_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"


_COLLECT_WITHOUT_TORCH = """
import sys, pytest
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("torch-loaded:" + (",".join(loaded[:3]) or "clean"))
sys.exit(int(code))
"""


def test_front_end_tests_collect_without_torch():
    """The grammar and diagnostics tests, their conftest and helpers never import torch."""
    proc = subprocess.run(
        [sys.executable, "-c", _COLLECT_WITHOUT_TORCH, str(paths.TESTS / "frontend")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=paths.REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("torch-loaded:clean"), proc.stdout


_NOT_SOURCE = (".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", ".*_cache")


@pytest.mark.slow
def test_wheel_contains_package_data(tmp_path):
    """Build a wheel from a copy of the tree (no build folder in the checkout) and look inside."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    proc = subprocess.run(
        [*pip, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("geoc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set().union(*_source_files().values())
    assert expected - names == set()

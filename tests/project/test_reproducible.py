"""The same spec, parameters and seed give byte-identical exported folders: across runs,
fresh processes with different hash seeds, working folders and output paths, and whether
the coefficient caches are cold or warm."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from paths import SPECS

from geoc import cli
from geoc.backends.torch_fx.api import compile as geoc_compile
from geoc.backends.torch_fx.export import generated_source, weights_state, write_folder
from geoc.budget import MAX_SEED
from geoc.diagnostics import GeoError


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def compile_in_fresh_process(
    spec: str, out: Path, cwd: Path, hash_seed: str, cache: Path, *args: str
) -> dict[str, bytes]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "GEOC_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "geoc", "compile", spec, "-o", str(out), *args]
    subprocess.run(command, check=True, cwd=cwd, env=env, capture_output=True)
    return files_of(cwd / out)


@pytest.mark.slow
def test_compile_in_two_fresh_processes_is_byte_identical(tmp_path: Path) -> None:
    """`geoc compile egnn -o DIR --seed 3` twice: other hash seeds, working folders and output
    paths (one relative, one absolute); every file equal byte for byte."""
    cache = tmp_path / "cache"
    first = compile_in_fresh_process("egnn", Path("out"), tmp_path / "a", "1", cache, "--seed", "3")
    second = compile_in_fresh_process(
        "egnn", tmp_path / "b" / "deep" / "out", tmp_path / "c", "2", cache, "--seed", "3"
    )
    assert sorted(first) == sorted(second) and "weights.pt" in first
    assert {name for name in first if first[name] != second[name]} == set()
    other_seed = compile_in_fresh_process(
        "egnn", Path("out4"), tmp_path / "a", "1", cache, "--seed", "4"
    )
    assert other_seed["weights.pt"] != first["weights.pt"]  # the seed matters


@pytest.mark.slow
def test_cold_and_warm_caches_give_the_same_bytes(tmp_path: Path) -> None:
    """escn's coupling tables come out of a transpose when computed and contiguous when read
    back from the cache; the weights file must not show the difference."""
    cache = tmp_path / "cache"
    cold = compile_in_fresh_process("escn", tmp_path / "cold", tmp_path, "0", cache)
    warm = compile_in_fresh_process("escn", tmp_path / "warm", tmp_path, "0", cache)
    assert {name for name in cold if cold[name] != warm[name]} == set()


def saved(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_saved_weights_depend_on_values_only() -> None:
    """A transposed view, a slice of a larger storage and two names on one storage are saved
    as the same bytes as plain contiguous copies of their values."""
    base = torch.arange(24.0).reshape(4, 6)
    module = torch.nn.Module()
    module.register_buffer("transposed", base.t())
    module.register_buffer("slice", base[1:3])
    module.register_buffer("shared", base[1:3])
    plain = torch.nn.Module()
    for name, value in module.state_dict().items():
        plain.register_buffer(name, value.clone().contiguous())
    assert saved(module.state_dict()) != saved(plain.state_dict())
    assert saved(weights_state(module)) == saved(weights_state(plain))


def test_the_same_seed_in_one_process_gives_the_same_module(tmp_path: Path) -> None:
    first, second = geoc_compile("deepsets", seed=3), geoc_compile("deepsets", seed=3)
    assert saved(weights_state(first)) == saved(weights_state(second))
    assert generated_source(first, "deepsets") == generated_source(second, "deepsets")
    assert saved(weights_state(geoc_compile("deepsets", seed=4))) != saved(weights_state(first))


def test_export_does_not_depend_on_where_the_spec_is(tmp_path: Path) -> None:
    """The same spec file in two folders, named by an absolute and a relative path: the
    folders name it by its file name only, so they are identical."""
    for where in ("one", "two/deeper"):
        (tmp_path / where).mkdir(parents=True)
        shutil.copy(SPECS / "deepsets.geo", tmp_path / where / "deepsets.geo")
    absolute = tmp_path / "one" / "deepsets.geo"
    relative = os.path.relpath(tmp_path / "two/deeper/deepsets.geo")
    folders = [
        write_folder(geoc_compile(Path(spec), seed=3), tmp_path / out, str(spec))
        for spec, out in ((absolute, "a"), (relative, "b"))
    ]
    first, second = (files_of(folder) for folder in folders)
    assert first == second
    assert b"deepsets.geo" in first["manifest.json"] and str(tmp_path).encode() not in b"".join(
        first.values()
    )


def test_exported_folder_follows_the_umask(tmp_path: Path) -> None:
    folder = write_folder(geoc_compile("deepsets"), tmp_path / "out")
    mask = os.umask(0o022)
    os.umask(mask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~mask


@pytest.mark.parametrize("seed", ["99999999999999999999999", "-1", str(2**64)])
def test_a_seed_out_of_range_is_a_usage_error(seed: str, capsys) -> None:
    """A torch generator takes 64 bits: a larger seed overflowed (exit 3) and -1 gave the
    weights of 2**64 - 1."""
    assert cli.main(["compile", "deepsets", "--seed", seed]) == 1
    err = capsys.readouterr().err
    assert "GEO191" in err and f"got {seed}\n" in err and "help:" in err


@pytest.mark.parametrize("seed", [10**23, -1, 2**64, True, 1.5])
def test_a_seed_out_of_range_is_refused_by_the_api(seed: object) -> None:
    """The lowering checks the seed too, so Python callers get GEO191, not an overflow."""
    with pytest.raises(GeoError) as caught:
        geoc_compile("deepsets", seed=seed)
    assert caught.value.diagnostics[0].code == "GEO191"


def test_the_largest_seed_compiles() -> None:
    first = geoc_compile("deepsets", seed=MAX_SEED)
    assert saved(weights_state(first)) != saved(weights_state(geoc_compile("deepsets", seed=0)))

"""The `geoc` command line: every command and flag, exit codes, and no tracebacks, ever."""

from __future__ import annotations

from pathlib import Path

import paths
import pytest
from cli_runner import run, run_process

from geoc import catalog, cli
from geoc.diagnostics import CODES

SPEC_DIR = paths.SPECS
SPEC_NAMES = sorted(p.stem for p in SPEC_DIR.glob("*.geo"))
MESSY = "model M(  features:int=4 ) {\n symmetry   trivial\n  input x :features x scalar\n}\n"
BROKEN = "model M( {\n"
MALFORMED_DIR = paths.MALFORMED
SIDECAR_SUFFIXES = {".md", ".txt", ".json", ".expected", ".err", ".stderr", ".out", ".py"}


# --- top level ---------------------------------------------------------------------------------


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == "geoc 0.1.0"


@pytest.mark.parametrize("command", [[], ["specs"], ["explain"], ["fmt"], ["compile"], ["check"]])
def test_every_command_has_help(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert out.startswith(f"usage: geoc {' '.join(command)}".rstrip())


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "no command given"),
        (["bogus"], "invalid choice"),
        (["specs", "--nope"], "unrecognized arguments"),
        (["compile"], "required"),
        (["compile", "egnn", "--emit", "wheel"], "invalid choice"),
        (["fmt"], "required"),
        (["check", "egnn", "--trials", "0"], "`--trials` must be from 1 to 10000, got 0"),
        (["check", "egnn", "--trials", "x"], "not a whole number: 'x'"),
        (["check", "egnn", "--graphs", "0"], "`--graphs` must be from 1 to 10000, got 0"),
        # out-of-range integers are usage errors, not overflows deep in torch or numpy (issue 13)
        (["compile", "egnn", "--seed", "99999999999999999999999"], "`seed` must be from 0 to"),
        (["check", "egnn", "--seed", "-1"], "`seed` must be from 0 to 18446744073709551615"),
        (["check", "egnn", "--trials", "1000000000"], "`--trials` must be from 1 to 10000"),
        (["check", "egnn", "--graphs", "1000000000"], "`--graphs` must be from 1 to 10000"),
        (["check", "egnn", "--atol", "inf"], "`--atol` must be positive and finite, got inf"),
        (["check", "egnn", "--atol", "nan"], "`--atol` must be positive and finite, got nan"),
        (["check", "egnn", "--max-bytes", "0"], "`--max-bytes` must be at least 1, got 0"),
        (["compile", "egnn", "--max-dim", "-5"], "`--max-dim` must be at least 1, got -5"),
    ],
)
def test_usage_errors_are_diagnostics(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("error[GEO191]: ")
    assert needle in err
    assert "--help" in err
    assert out == ""


def test_internal_error_is_reported_without_traceback(capsys, monkeypatch):
    monkeypatch.delenv("GEOC_DEBUG", raising=False)
    monkeypatch.setattr(catalog, "resolve_spec", _explode)
    code, _, err = run(capsys, "compile", "egnn")
    assert code == 3
    assert err.startswith("internal error: RuntimeError: boom")
    assert "report" in err
    assert "Traceback" not in err


def test_internal_error_traceback_with_debug(capsys, monkeypatch):
    monkeypatch.setenv("GEOC_DEBUG", "1")
    monkeypatch.setattr(catalog, "resolve_spec", _explode)
    code, _, err = run(capsys, "check", "egnn")
    assert code == 3
    assert "Traceback" in err


def test_interrupt_exits_130(capsys, monkeypatch):
    def interrupt(name: str) -> tuple[str, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "resolve_spec", interrupt)
    code, _, err = run(capsys, "compile", "egnn")
    assert code == 130
    assert "Traceback" not in err


def _explode(name: str) -> tuple[str, str]:
    raise RuntimeError("boom")


# --- geoc specs ------------------------------------------------------------------------------


def test_specs_lists_every_builtin_aligned(capsys):
    code, out, _ = run(capsys, "specs")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == SPEC_NAMES
    starts = {len(line) - len(line[len(line.split()[0]) :].lstrip()) for line in lines}
    assert len(starts) == 1, "descriptions start in one column"
    assert "E(n) Equivariant Graph Neural Network" in out


def test_spec_descriptions_are_first_comment_lines():
    for spec in catalog.builtin_specs():
        first = spec.resource.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# {spec.description}"


# --- geoc explain ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_every_code(capsys, code):
    status, out, err = run(capsys, "explain", code)
    assert status == 0
    assert out.startswith(f"{code}: {CODES[code].title}\n\n")
    assert len(out.split("\n\n", 1)[1].strip()) > 20
    assert err == ""


@pytest.mark.parametrize("spelling", ["geo113", "113", " GEO113 "])
def test_explain_accepts_loose_spellings(capsys, spelling):
    code, out, _ = run(capsys, "explain", spelling)
    assert code == 0
    assert out.startswith("GEO113: cannot read source")


@pytest.mark.parametrize("bogus", ["GEO999", "E0001", "banana", ""])
def test_explain_unknown_code(capsys, bogus):
    code, out, err = run(capsys, "explain", bogus)
    assert code == 1
    assert out == ""
    assert err.startswith("error[GEO191]: unknown diagnostic code")


def test_explain_without_code_lists_all(capsys):
    code, out, _ = run(capsys, "explain")
    assert code == 0
    for number, info in CODES.items():
        assert f"{number}  {info.title}\n" in out


def test_diagnostics_doc_lists_every_code():
    doc = (paths.DOCS / "diagnostics.md").read_text(encoding="utf-8")
    missing = [code for code, info in CODES.items() if f"| `{code}` | {info.title} |" not in doc]
    assert not missing, f"add these codes to docs/diagnostics.md: {missing}"


# --- geoc compile / geoc check ---------------------------------------------------------------


COMPILED = ["egnn", "deepsets"]  # core and graph operators only


@pytest.mark.parametrize("spec", [*COMPILED, "egnn.geo"])
def test_compile_builtin_prints_a_summary(capsys, spec):
    code, out, err = run(capsys, "compile", spec)
    assert code == 0, err
    assert "IR nodes" in out and "symmetry" in out and "outputs" in out


@pytest.mark.parametrize("spec", COMPILED)
def test_check_builtin_passes(capsys, spec):
    code, out, err = run(capsys, "check", spec, "-p", "hidden=16")
    assert code == 0, err
    assert out.startswith("static: ")
    assert "every output transforms as declared" in out


@pytest.mark.parametrize(
    ("spec", "params", "exact"),
    [
        ("fno", ["width=8", "modes=4", "depth=1"], "cyclic shifts of the 64x64 grid"),
        ("sfno", ["width=8", "depth=1"], "rotations about the pole by multiples of 2π/64"),
    ],
)
def test_check_grid_specs_says_what_is_exact(capsys, spec, params, exact):
    args = [x for p in params for x in ("-p", p)]
    code, out, err = run(capsys, "check", spec, *args)
    assert code == 0, err
    assert f"exact: {exact}" in out
    assert ("band-limited: random rotations of band-limited fields" in out) == (spec == "sfno")


def test_sphere_grid_flag_compiles_and_checks_on_that_grid(capsys, tmp_path):
    """`--sphere-grid` is `geoc.compile(..., sphere_grid=)`: the folder records the kind, and
    `check` draws and rotates its band-limited inputs on that grid (a Gauss-Legendre model fed
    equiangular rotations would miss the 5e-2 aliasing bound)."""
    import geoc

    small = ["-p", "width=8", "-p", "depth=1"]
    code, out, err = run(capsys, "compile", "sfno", *small, "--sphere-grid", "legendre_gauss",
                         "-o", str(tmp_path / "m"))  # fmt: skip
    assert code == 0, err
    assert geoc.load(tmp_path / "m").meta["geoc_build"]["sphere_grid"] == "legendre_gauss"
    code, out, err = run(capsys, "check", "sfno", *small, "--sphere-grid", "legendre_gauss")
    assert code == 0, out + err
    assert "above l = 32" in out  # the Gauss-Legendre grid's exact degree, not equiangular 16
    for argv in (["sfno", "--sphere-grid", "gauss"], ["fno", "--sphere-grid", "equiangular"]):
        code, out, err = run(capsys, "compile", *argv)
        assert code != 0 and "GEO533" in err


def test_check_leaves_torch_thread_settings_alone(capsys, monkeypatch):
    """Library code never changes torch's global thread count (users set OMP_NUM_THREADS)."""
    import torch

    def forbidden(*args: object) -> None:
        raise AssertionError("geoc check changed torch's thread settings")

    monkeypatch.setattr(torch, "set_num_threads", forbidden)
    code, out, err = run(capsys, "check", "egnn", "-p", "hidden=16")
    assert code == 0, err
    assert "every output transforms as declared" in out


def test_check_defaults_to_batches_random_parameters_and_exact_laws(capsys):
    """Issue 12: a batch of graphs, random parameters after the first trial, 1e-12 relative."""
    code, out, err = run(capsys, "check", "deepsets", "-p", "hidden=8")
    assert code == 0, err
    assert ", batch of 2 graphs (permutation)" in out
    assert "parameters: trial 1 as compiled; trials 2, 3 random" in out
    assert "tolerance: error <= 1e-12 x max(|g·f(x)|, 1) per output and trial" in out


def test_check_takes_graphs_and_an_absolute_tolerance(capsys):
    argv = ["deepsets", "-p", "hidden=8", "--graphs", "3", "--atol", "1e-9", "--trials", "1"]
    code, out, err = run(capsys, "check", *argv)
    assert code == 0, err
    assert ", 1 trial, batch of 3 graphs" in out
    assert "tolerance: max error < 1e-09 per output (atol given)" in out
    assert "parameters: as compiled in every trial" in out


def test_check_static_needs_no_numerics(capsys):
    code, out, _ = run(capsys, "check", "egnn", "--static")
    assert code == 0
    assert out.strip().startswith("static: `EGNN` is equivariant under E(3) x S(nodes)")
    assert "max error" not in out


@pytest.mark.parametrize(
    ("emit", "needle"),
    [("ir", '"geoc_ir": 1'), ("dot", "digraph"), ("code", "class EGNN(torch.nn.Module)")],
)
def test_compile_emits_to_stdout(capsys, emit, needle):
    code, out, _ = run(capsys, "compile", "egnn", "-p", "depth=1", "--emit", emit)
    assert code == 0
    assert needle in out


@pytest.mark.parametrize(
    ("emit", "file"), [("ir", "ir.json"), ("dot", "graph.dot"), ("code", "module.py")]
)
def test_compile_emits_into_a_folder(capsys, tmp_path, emit, file):
    code, _, _ = run(capsys, "compile", "deepsets", "-o", str(tmp_path / "out"), "--emit", emit)
    assert code == 0
    assert (tmp_path / "out" / file).is_file()


def test_compile_writes_the_module_folder(capsys, tmp_path):
    code, _, err = run(capsys, "compile", "egnn", "-p", "depth=2", "-o", str(tmp_path / "egnn"))
    assert code == 0, err
    names = {p.name for p in (tmp_path / "egnn").iterdir()}
    made = {"__init__.py", "manifest.json", "module.py", "spec.geo", "weights.pt"}
    assert made | {"geoc_runtime.py"} <= names  # spec.geo: geoc.load compiles it again
    assert all(n.startswith("geoc_runtime") for n in names - made)


def test_compile_by_path_with_params(capsys, tmp_path):
    spec = tmp_path / "tiny.geo"
    spec.write_text(MESSY)
    code, out, err = run(capsys, "compile", str(spec), "-p", "features=8")
    assert code == 0, err
    assert out.startswith("M: ")


def test_param_of_the_wrong_type(capsys):
    code, _, err = run(capsys, "compile", "egnn", "-p", "depth=true")
    assert code == 1
    assert "error[GEO302]: `depth` must be int" in err


def test_unknown_param(capsys):
    code, _, err = run(capsys, "compile", "egnn", "-p", "dept=2")
    assert code == 1
    assert "error[GEO208]" in err and "did you mean `depth`?" in err


def test_missing_device(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, _, err = run(capsys, "compile", "deepsets", "--device", "cuda")
    assert code == 1
    assert err.startswith("error[GEO502]")


def test_local_file_shadows_builtin_name(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("egnn").write_text(BROKEN)
    code, _, err = run(capsys, "check", "egnn")
    assert code == 1
    assert "--> egnn:1:" in err


@pytest.mark.parametrize("command", ["compile", "check"])
def test_syntax_error_renders_diagnostic(capsys, tmp_path, command):
    spec = tmp_path / "bad.geo"
    spec.write_text(BROKEN)
    code, out, err = run(capsys, command, str(spec))
    assert code == 1
    assert out == ""
    assert err.startswith("error[GEO")
    assert f"--> {spec}:1:" in err
    assert "^" in err


def test_unknown_spec_lists_builtin_names(capsys):
    code, _, err = run(capsys, "compile", "egn")
    assert code == 1
    assert err.startswith("error[GEO113]: `egn` is neither a file nor a built-in spec")
    assert "did you mean `egnn`?" in err
    assert all(name in err for name in SPEC_NAMES)


def test_unreadable_spec(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 1
    assert err.startswith("error[GEO113]: cannot read")


def test_binary_spec(capsys, tmp_path):
    spec = tmp_path / "blob.geo"
    spec.write_bytes(b"model M() {\xff\xfe}\n")
    code, _, err = run(capsys, "compile", str(spec))
    assert code == 1
    assert err.startswith("error[GEO110]")


@pytest.mark.parametrize(
    ("param", "needle"),
    [
        ("hidden", "has no `=`"),
        ("=3", "is not a parameter name"),
        ("1x=3", "is not a parameter name"),
        ("a-b=3", "is not a parameter name"),
        ("hidden=", "needs a value"),
        ("hidden=  ", "needs a value"),
    ],
)
def test_malformed_param(capsys, param, needle):
    code, _, err = run(capsys, "compile", "egnn", "-p", param)
    assert code == 1
    assert err.startswith("error[GEO190]")
    assert needle in err
    assert "NAME=VALUE" in err


def test_param_given_twice(capsys):
    code, _, err = run(capsys, "check", "egnn", "-p", "hidden=8", "--param", "hidden=16")
    assert code == 1
    assert "`hidden` is given more than once" in err


def test_every_malformed_param_is_reported(capsys):
    code, _, err = run(capsys, "check", "egnn", "-p", "a", "-p", "b=", "-p", "ok=1")
    assert code == 1
    assert err.count("error[GEO190]") == 2


def test_parse_overrides_keeps_values_verbatim():
    overrides = cli.parse_overrides(["hidden=128", " act = silu ", "out=16 x scalar + 4 x 1o"])
    assert overrides == {"hidden": "128", "act": "silu", "out": "16 x scalar + 4 x 1o"}


# --- through a real process: exit codes and no tracebacks -------------------------------------


def test_process_version():
    proc = run_process("--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, "geoc 0.1.0")


def test_process_compile_builtin():
    proc = run_process("compile", "deepsets")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("DeepSets: ")


@pytest.mark.parametrize(
    "argv",
    [["compile", "no/such/spec.geo"], ["explain", "GEO999"], ["frobnicate"], ["check", "-p"]],
)
def test_process_errors_exit_1_without_traceback(argv):
    proc = run_process(*argv)
    assert proc.returncode == 1
    assert "error[GEO" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_process_syntax_error(tmp_path):
    spec = tmp_path / "bad.geo"
    spec.write_text("model M() {\n    input h: 16 x\n}\n")
    proc = run_process("check", str(spec))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error[GEO105]")
    assert "Traceback" not in proc.stderr


# --- the malformed corpus (tests/malformed/, when present) -------------------------------------


def _malformed_files() -> list[Path]:
    if not MALFORMED_DIR.is_dir():
        return []
    files = (p for p in sorted(MALFORMED_DIR.rglob("*")) if p.is_file())
    return [p for p in files if p.suffix not in SIDECAR_SUFFIXES and not p.name.startswith(".")]


@pytest.mark.parametrize("path", _malformed_files(), ids=lambda p: p.name)
def test_malformed_input_is_a_diagnostic(capsys, path):
    code, out, err = run(capsys, "compile", str(path))
    assert code == 1, err
    assert "error[GEO" in err
    assert "Traceback" not in err + out
    assert "internal error" not in err


@pytest.mark.parametrize(("algorithm", "kernel"), [("cg", "rt_tp."), ("so2", "rt_so2.")])
def test_tp_algorithm_forces_the_tp_conv_lowering(capsys, algorithm, kernel):
    argv = ["compile", "nequip", "-p", "channels=4", "-p", "depth=1", "--emit", "code"]
    code, out, err = run(capsys, *argv, "--tp-algorithm", algorithm)
    assert code == 0, err
    assert kernel in out


# --- resource budgets and integer ranges (issue 13) ---------------------------------------------


def test_the_largest_seed_compiles_and_checks(capsys):
    argv = ["egnn", "-p", "depth=1", "--seed", str(2**64 - 1)]
    assert run(capsys, "check", *argv, "--trials", "1")[0] == 0


def test_max_bytes_flag_sets_the_budget(capsys, tmp_path, monkeypatch):
    from geoc.ops.solver_ops import pair_basis

    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path))  # no basis solved in an earlier run
    pair_basis.cache_clear()
    code, out, err = run(capsys, "check", "--static", "emlp_o5", "--max-bytes", "1000")
    assert code == 1 and out == ""
    assert err.startswith("error[GEO520]: `linear` to ")
    assert "over the budget of 1000 bytes" in err and "--max-bytes" in err


def test_max_dim_flag_sets_the_budget(capsys, tmp_path, monkeypatch):
    from geoc.ops.solver_ops import pair_basis

    monkeypatch.setenv("GEOC_CACHE_DIR", str(tmp_path / "cache"))
    pair_basis.cache_clear()
    spec = tmp_path / "lorentz.geo"
    spec.write_text(
        "model M() {\n    symmetry Lorentz(3)\n    input t: tensor(2)\n"
        "    output y: tensor(2) = linear(t, tensor(2))\n}\n"
    )
    code, _, err = run(capsys, "check", "--static", str(spec), "--max-dim", "100")
    assert code == 1 and err.startswith("error[GEO520]: ")
    assert f"{spec}:4:27" in err and "256 dimensions, over the budget of 100" in err
    assert run(capsys, "check", "--static", str(spec))[0] == 0


def test_a_recursive_block_is_a_diagnostic_not_a_recursion_error(capsys, tmp_path):
    spec = tmp_path / "rec.geo"
    spec.write_text(
        "block f(x: scalar) -> scalar {\n    return g(x)\n}\n"
        "block g(x: scalar) -> scalar {\n    return f(x)\n}\n"
        "model M() {\n    symmetry trivial\n    input x: scalar\n    output y: scalar = f(x)\n}\n"
    )
    code, _, err = run(capsys, "compile", str(spec))
    assert code == 1
    assert err.startswith("error[GEO521]: block `f` calls itself (f -> g -> f)")
    assert f"{spec}:5:12" in err

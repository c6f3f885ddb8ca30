"""``geoc lsp`` driven as a subprocess over stdio with real LSP messages: the lifecycle, the
diagnostics published after each change (range and code), hover, definition, formatting, and
a handler that fails answering an error while the server goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geoc.grammar.formatter import format_source
from geoc.lsp.client import Client
from geoc.lsp.protocol import INTERNAL_ERROR, PARSE_ERROR, SERVER_NOT_INITIALIZED
from geoc.ops import lookup

LIB = """\
# A block shared by the specs of this folder.
block mix(h: 16 x scalar over nodes, d: scalar over edges) -> 16 x scalar over nodes {
    m = mlp(concat(h[src], d), [16, 16], act=silu)
    return h + sum(m, over=edges, into=nodes)
}
"""

MAIN = """\
import "lib.geo"

model Net() {
    symmetry E(3) x S(nodes)
    domain pointcloud(nodes, dim=3, edges=full)

    input h: 16 x scalar over nodes
    input f: 16 x scalar + 8 x vector over nodes
    input x: point(3) over nodes

    d = sqnorm(x[dst] - x[src])
    h = mix(h, d)
    g = linear(f, 16 x scalar + 8 x vector)
    output energy: scalar = sum(mlp(h, [16, 1]), over=nodes)
    output field: 16 x scalar + 8 x vector over nodes = g
}
"""

LINEAR = "linear(f, 16 x scalar + 8 x vector)"
RELU = f"act({LINEAR}, relu)"  # relu on the 8 vectors: GEO402 at the argument


def at(text: str, needle: str, offset: int = 0, nth: int = 0) -> dict[str, int]:
    """The LSP position of the ``nth`` ``needle`` in ``text`` (+ ``offset`` characters);
    the texts here are ASCII, so characters are UTF-16 units."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}


def span(text: str, needle: str, length: int | None = None) -> dict[str, dict[str, int]]:
    """The range of ``needle`` in ``text`` (of its first ``length`` characters if given)."""
    size = len(needle) if length is None else length
    return {"start": at(text, needle), "end": at(text, needle, size)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "lib.geo").write_text(LIB)
    (tmp_path / "main.geo").write_text(MAIN)
    return tmp_path


@pytest.fixture
def client():
    server = Client()
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def start(client: Client, folder: Path, text: str = MAIN) -> str:
    reply = client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    capabilities = reply["result"]["capabilities"]
    assert capabilities["hoverProvider"] and capabilities["documentFormattingProvider"]
    client.notify("initialized", {})
    uri = (folder / "main.geo").as_uri()
    document = {"uri": uri, "languageId": "geo", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return uri


def change(client: Client, uri: str, version: int, text: str) -> None:
    ident = {"uri": uri, "version": version}
    client.notify(
        "textDocument/didChange", {"textDocument": ident, "contentChanges": [{"text": text}]}
    )


def ask(client: Client, method: str, uri: str, position: dict | None = None) -> dict:
    params: dict = {"textDocument": {"uri": uri}}
    if position is not None:
        params["position"] = position
    if method == "textDocument/formatting":
        params["options"] = {"tabSize": 4, "insertSpaces": True}
    return client.request(method, params)


def test_a_full_exchange(client: Client, folder: Path) -> None:
    uri = start(client, folder)
    assert client.diagnostics(uri, 1)["diagnostics"] == []  # valid, its import resolved

    bad = MAIN.replace(LINEAR, RELU)
    change(client, uri, 2, bad)
    (diag,) = client.diagnostics(uri, 2)["diagnostics"]
    assert diag["code"] == "GEO402" and diag["severity"] == 1
    assert diag["range"] == span(bad, LINEAR)  # the argument relu is applied to
    assert "relu" in diag["message"] and "help: " in diag["message"]

    change(client, uri, 3, MAIN)  # fixed again: the diagnostics are cleared
    assert client.diagnostics(uri, 3)["diagnostics"] == []

    hover = ask(client, "textDocument/hover", uri, at(MAIN, "g = linear"))["result"]
    assert "g: 16 x scalar + 8 x vector over nodes" in hover["contents"]["value"]
    assert hover["range"] == span(MAIN, "g = linear", 1)
    hover = ask(client, "textDocument/hover", uri, at(MAIN, "d)", nth=0))["result"]
    assert "d: scalar over edges" in hover["contents"]["value"]

    hover = ask(client, "textDocument/hover", uri, at(MAIN, "linear", 2))["result"]
    text = hover["contents"]["value"]
    assert "linear(x, out, bias=true" in text and lookup("linear").doc in text

    jump = ask(client, "textDocument/definition", uri, at(MAIN, "mix(h", 1))["result"]
    assert jump == {"uri": (folder / "lib.geo").as_uri(), "range": span(LIB, "mix(", 3)}
    jump = ask(client, "textDocument/definition", uri, at(MAIN, '"lib.geo"', 2))["result"]
    assert jump["uri"] == (folder / "lib.geo").as_uri()
    jump = ask(client, "textDocument/definition", uri, at(MAIN, "d)", nth=0))["result"]
    assert jump == {"uri": uri, "range": span(MAIN, "d = sqnorm", 1)}

    assert client.request("shutdown")["result"] is None
    client.notify("exit")
    assert client.close() == 0
    assert "Traceback" not in client.stderr()


def test_formatting_is_geoc_fmt(client: Client, folder: Path) -> None:
    messy = MAIN.replace("    d = sqnorm(", "  d   =  sqnorm(").replace("[16, 1]", "[16,1]")
    uri = start(client, folder, messy)
    client.diagnostics(uri, 1)
    (edit,) = ask(client, "textDocument/formatting", uri)["result"]
    assert edit["range"]["start"] == {"line": 0, "character": 0}
    assert edit["range"]["end"] == {"line": messy.count("\n"), "character": 0}
    fmt = [sys.executable, "-m", "geoc", "fmt", "-"]
    done = subprocess.run(fmt, input=messy, capture_output=True, text=True, check=True)
    assert edit["newText"] == done.stdout == format_source(messy) == MAIN

    change(client, uri, 2, MAIN)  # formatted already: no edit
    assert ask(client, "textDocument/formatting", uri)["result"] == []
    change(client, uri, 3, MAIN.replace("model Net() {", "model Net() {{"))
    (diag,) = client.diagnostics(uri, 3)["diagnostics"]
    assert diag["code"].startswith("GEO1")  # a parse error, published as such
    reply = ask(client, "textDocument/formatting", uri)
    assert reply["result"] == [] and "error" not in reply  # no edits, not an error


def test_a_failing_handler_answers_an_error_and_the_server_goes_on(
    client: Client, folder: Path
) -> None:
    uri = start(client, folder)
    reply = ask(client, "textDocument/hover", uri)  # no position: the handler fails
    assert reply["error"]["code"] == INTERNAL_ERROR and "position" in reply["error"]["message"]
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json")
    unreadable = client.wait(lambda m: "error" in m and m.get("id") is None)
    assert unreadable["error"]["code"] == PARSE_ERROR
    hover = ask(client, "textDocument/hover", uri, at(MAIN, "g = linear"))["result"]
    assert "over nodes" in hover["contents"]["value"]  # still serving
    assert client.request("shutdown")["result"] is None
    client.notify("exit")
    assert client.close() == 0
    assert "Traceback" not in client.stderr()


def test_lifecycle_errors_and_exit_codes(client: Client) -> None:
    early = client.request("textDocument/hover", {})
    assert early["error"]["code"] == SERVER_NOT_INITIALIZED
    client.request("initialize", {"capabilities": {}})
    client.notify("exit")  # without `shutdown` first: exit code 1, as LSP says
    assert client.close() == 1


def test_a_diagnostic_in_an_imported_file_is_shown_at_the_import(
    client: Client, folder: Path
) -> None:
    (folder / "lib.geo").write_text(LIB.replace("act=silu", "act=nope"))
    uri = start(client, folder)
    (diag,) = client.diagnostics(uri, 1)["diagnostics"]
    assert diag["code"] == "GEO302" and diag["range"] == span(MAIN, 'import "lib.geo"')
    (related,) = diag["relatedInformation"]
    assert related["location"]["uri"] == (folder / "lib.geo").as_uri()
    assert related["location"]["range"]["start"]["line"] == 2


def test_saving_an_imported_file_checks_the_open_ones_again(client: Client, folder: Path) -> None:
    uri = start(client, folder)
    assert client.diagnostics(uri, 1)["diagnostics"] == []
    lib = folder / "lib.geo"
    lib.write_text(LIB.replace("block mix(", "block mixer("))  # `mix` is gone
    client.notify("textDocument/didSave", {"textDocument": {"uri": lib.as_uri()}})
    (diag,) = client.diagnostics(uri, 1)["diagnostics"]
    assert diag["code"].startswith("GEO2") and diag["range"] == span(MAIN, "mix(", 3)

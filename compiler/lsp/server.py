"""``geoc lsp``: the language server loop.

A reader thread turns stdin into messages on a queue; the main thread handles them in order.
Diagnostics are published when the queue runs dry: a burst of edits is checked once, at its
last version (that is the debounce), and every published set names the version it checked.
A handler that fails answers a JSON-RPC error (a notification's failure is logged to the
client) and the server goes on; nothing is ever printed to stdout but protocol messages.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import geoc
from geoc.cli.errors import DEBUG_ENV
from geoc.lsp.analysis import Analysis, Document, analyse
from geoc.lsp.features import definition, formatting, hover, hover_types
from geoc.lsp.positions import Lines
from geoc.lsp.protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    SERVER_NOT_INITIALIZED,
    FdReader,
    Input,
    ProtocolError,
    Writer,
    read_message,
)
from geoc.lsp.report import lsp_diagnostics
from geoc.lsp.typed import Types

Json = dict[str, Any]
SYNC_INCREMENTAL = 2  # TextDocumentSyncKind.Incremental
LOG_ERROR = 1  # MessageType.Error


@dataclass
class OpenDoc:
    """An open document's text and version, with its analysis computed once per version."""

    doc: Document
    text: str
    version: int | None
    _analysis: Analysis | None = None
    _types: tuple[Types | None] | None = field(default=None)

    def analysis(self) -> Analysis:
        if self._analysis is None:
            self._analysis = analyse(self.doc, self.text)
        return self._analysis

    def types(self) -> Types | None:
        if self._types is None:
            self._types = (hover_types(self.analysis()),)
        return self._types[0]

    def change(self, text: str, version: int | None) -> None:
        self.text, self.version = text, version
        self._analysis, self._types = None, None


class Server:
    """The state of one session: open documents and the shutdown handshake."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.docs: dict[str, OpenDoc] = {}
        self.dirty: dict[str, None] = {}  # documents changed since their last publication
        self.initialized = False
        self.shut_down = False
        self.exit_code: int | None = None

    # --- dispatch ---

    def handle(self, message: Any) -> None:
        if not isinstance(message, dict) or "method" not in message:
            if isinstance(message, dict) and "id" in message and "result" not in message:
                self.writer.error(message.get("id"), INVALID_REQUEST, "not a request")
            return  # a response to a request of ours (we send none), or junk without an id
        method, params = message["method"], message.get("params") or {}
        if "id" in message:
            self._request(message["id"], method, params)
        else:
            self._notification(method, params)

    def _request(self, id_: Any, method: str, params: Json) -> None:
        handler = REQUESTS.get(method)
        if handler is None:
            self.writer.error(id_, METHOD_NOT_FOUND, f"no method `{method}`")
        elif not self.initialized and method != "initialize":
            self.writer.error(id_, SERVER_NOT_INITIALIZED, "send `initialize` first")
        elif self.shut_down:
            self.writer.error(id_, INVALID_REQUEST, "the server is shut down: send `exit`")
        else:
            try:
                result = handler(self, params)
            except Exception as err:  # a bug: answered, logged, and the server goes on
                self.writer.error(id_, INTERNAL_ERROR, _internal(method, err))
                return
            self.writer.respond(id_, result)

    def _notification(self, method: str, params: Json) -> None:
        handler = NOTIFICATIONS.get(method)
        if handler is None or (not self.initialized and method != "exit"):
            return  # `$/cancelRequest`, settings, ...: nothing to do
        try:
            handler(self, params)
        except Exception as err:
            self._log(_internal(method, err))

    # --- lifecycle ---

    def initialize(self, params: Json) -> Json:
        self.initialized = True
        capabilities = {
            "positionEncoding": "utf-16",
            "textDocumentSync": {"openClose": True, "change": SYNC_INCREMENTAL, "save": {}},
            "hoverProvider": True,
            "definitionProvider": True,
            "documentFormattingProvider": True,
        }
        info = {"name": "geoc", "version": geoc.__version__}
        return {"capabilities": capabilities, "serverInfo": info}

    def shutdown(self, params: Json) -> None:
        self.shut_down = True

    def exit(self, params: Json) -> None:
        self.exit_code = 0 if self.shut_down else 1

    # --- documents ---

    def did_open(self, params: Json) -> None:
        item = params["textDocument"]
        uri = item["uri"]
        self.docs[uri] = OpenDoc(Document.of(uri), item["text"], item.get("version"))
        self.dirty[uri] = None

    def did_change(self, params: Json) -> None:
        ident = params["textDocument"]
        open_doc = self.docs[ident["uri"]]
        text = open_doc.text
        for change in params["contentChanges"]:
            text = apply_change(text, change)
        open_doc.change(text, ident.get("version"))
        self.dirty[ident["uri"]] = None

    def did_save(self, params: Json) -> None:
        """Imports are read from disk: a saved file may change what every open one sees."""
        for open_doc in self.docs.values():
            open_doc.change(open_doc.text, open_doc.version)  # checked again, not from cache
        self.dirty.update(dict.fromkeys(self.docs))

    def did_close(self, params: Json) -> None:
        uri = params["textDocument"]["uri"]
        self.docs.pop(uri, None)
        self.dirty.pop(uri, None)
        self._publish(uri, None, [])

    def publish_dirty(self) -> None:
        """Check every document changed since its last diagnostics and publish them."""
        while self.dirty:
            uri = next(iter(self.dirty))
            del self.dirty[uri]
            open_doc = self.docs[uri]
            try:
                found = lsp_diagnostics(open_doc.analysis(), open_doc.doc)
            except Exception as err:
                self._log(_internal("publishDiagnostics", err))
                continue
            self._publish(uri, open_doc.version, found)

    def _log(self, message: str) -> None:
        self.writer.notify("window/logMessage", {"type": LOG_ERROR, "message": message})

    def _publish(self, uri: str, version: int | None, found: list[Json]) -> None:
        params: Json = {"uri": uri, "diagnostics": found}
        if version is not None:
            params["version"] = version
        self.writer.notify("textDocument/publishDiagnostics", params)

    # --- language features ---

    def _open(self, params: Json) -> OpenDoc:
        return self.docs[params["textDocument"]["uri"]]

    def hover(self, params: Json) -> Json | None:
        open_doc = self._open(params)
        return hover(open_doc.analysis(), open_doc.doc, params["position"], open_doc.types())

    def definition(self, params: Json) -> Json | None:
        open_doc = self._open(params)
        return definition(open_doc.analysis(), open_doc.doc, params["position"])

    def formatting(self, params: Json) -> list[Json]:
        open_doc = self._open(params)
        return formatting(open_doc.text, open_doc.doc)


Handler = Callable[[Server, Json], Any]

REQUESTS: dict[str, Handler] = {
    "initialize": Server.initialize,
    "shutdown": Server.shutdown,
    "textDocument/hover": Server.hover,
    "textDocument/definition": Server.definition,
    "textDocument/formatting": Server.formatting,
}
NOTIFICATIONS: dict[str, Handler] = {
    "initialized": lambda server, params: None,
    "exit": Server.exit,
    "textDocument/didOpen": Server.did_open,
    "textDocument/didChange": Server.did_change,
    "textDocument/didSave": Server.did_save,
    "textDocument/didClose": Server.did_close,
}


def apply_change(text: str, change: Json) -> str:
    """``text`` after one content change: the whole text, or a range replaced."""
    if "range" not in change:
        return change["text"]
    lines = Lines.of(text)
    start = lines.offset(change["range"]["start"])
    end = lines.offset(change["range"]["end"])
    return text[:start] + change["text"] + text[max(end, start) :]


def _internal(method: str, err: Exception) -> str:
    """The one line a failed handler reports (the traceback only with GEOC_DEBUG=1)."""
    line = f"internal error in {method}: {type(err).__name__}: {err}"
    print(f"geoc lsp: {line}", file=sys.stderr)
    if os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exc(file=sys.stderr)
    return line


# --- the loop -------------------------------------------------------------------------------


def _reader(stream: Input, inbox: queue.Queue) -> None:
    while True:
        try:
            message = read_message(stream)
        except ProtocolError as err:
            inbox.put(err)
            if err.fatal:
                return
            continue
        except (OSError, ValueError):  # stdin closed under us
            message = None
        inbox.put(message)
        if message is None:
            return


def serve(stdin: Input, stdout: BinaryIO) -> int:
    """Serve one client until ``exit`` or the end of stdin; the exit code LSP asks for (0
    after ``shutdown``, 1 otherwise)."""
    server = Server(Writer(stdout))
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(stdin, inbox), daemon=True).start()
    while server.exit_code is None:
        try:
            message = inbox.get(block=not server.dirty)
        except queue.Empty:  # caught up with the client: now the diagnostics
            server.publish_dirty()
            continue
        if message is None:
            return 0 if server.shut_down else 1
        if isinstance(message, ProtocolError):
            server.writer.error(None, message.code, str(message))
            if message.fatal:
                return 1
            continue
        server.handle(message)
    return server.exit_code


def run_lsp() -> int:
    """Serve on this process's stdin and stdout; stray prints go to stderr."""
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # the protocol owns stdout
    return serve(FdReader(sys.stdin.fileno()), stdout)

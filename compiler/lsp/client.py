"""A minimal LSP client that drives ``geoc lsp`` in a subprocess over its stdio: what the
tests and ``bench/lsp_latency.py`` talk to the server with (real framed messages, no
shortcuts into the server's objects)."""

from __future__ import annotations

import itertools
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from geoc.lsp.protocol import ProtocolError, frame, read_message

Json = dict[str, Any]


class Client:
    """``geoc lsp`` as a subprocess; messages from it are collected by a reader thread."""

    def __init__(self, command: list[str] | None = None, timeout: float = 60.0) -> None:
        command = command or [sys.executable, "-m", "geoc", "lsp"]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.timeout = timeout
        self.inbox: queue.Queue = queue.Queue()
        self.seen: list[Json] = []  # messages read while waiting for another
        self.ids = itertools.count(1)
        self.errors: list[bytes] = []  # its stderr, drained so a full pipe never blocks it
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line)

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            try:
                message = read_message(self.process.stdout)
            except ProtocolError as err:
                message = {"unreadable": str(err)}
            self.inbox.put(message)
            if message is None:
                return

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send_raw(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request_id(self, method: str, params: Any = None) -> int:
        """Send a request; its id (wait for the answer with :meth:`response`)."""
        id_ = next(self.ids)
        self.send_raw(frame({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))
        return id_

    def request(self, method: str, params: Any = None) -> Json:
        """Send a request and wait for its response (the whole message: result or error)."""
        id_ = self.request_id(method, params)
        return self.response(id_)

    def response(self, id_: Any) -> Json:
        return self.wait(lambda m: m.get("id") == id_ and "method" not in m)

    def wait(self, match: Callable[[Json], bool]) -> Json:
        """The first message (already seen or still to come) that ``match``es; it is taken."""
        for message in self.seen:
            if match(message):
                self.seen.remove(message)
                return message
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching message from the server; seen: {self.seen}")
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise EOFError("the server closed its output")
            if match(message):
                return message
            self.seen.append(message)

    def diagnostics(self, uri: str, version: int | None = None) -> Json:
        """The next ``publishDiagnostics`` for ``uri`` (at ``version`` when given)."""

        def match(m: Json) -> bool:
            if m.get("method") != "textDocument/publishDiagnostics":
                return False
            params = m["params"]
            return params["uri"] == uri and (version is None or params.get("version") == version)

        return self.wait(match)["params"]

    def close(self, timeout: float = 30.0) -> int:
        """Close stdin and wait: the server's exit code."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        return self.process.wait(timeout)

    def stderr(self) -> str:
        """What the server has written to stderr so far."""
        return b"".join(self.errors).decode("utf-8", errors="replace")

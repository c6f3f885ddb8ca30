"""JSON-RPC 2.0 over LSP's base protocol: ``Content-Length`` framed messages on a byte stream.

A message is a header block (``Content-Length: N``, optionally ``Content-Type``, each line
ending in CRLF, then an empty line) followed by N bytes of UTF-8 JSON. :func:`read_message`
gives the decoded object (or a :class:`ProtocolError` for a body that is not JSON), None at
the end of the stream; :func:`write_message` frames one.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, BinaryIO, Protocol

# JSON-RPC and LSP error codes (the LSP specification, "Base Protocol").
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

MAX_BODY_BYTES = 64 * 1024 * 1024  # a spec is at most 8 MiB; a larger body is not a client's


class ProtocolError(Exception):
    """A message that cannot be read: answered with ``code`` (id null), and the stream goes on
    when its framing was intact."""

    def __init__(self, code: int, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


class Input(Protocol):
    def readline(self, limit: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class FdReader:
    """Buffered reads of a file descriptor without Python's buffered file object: a thread
    blocked in :meth:`read` holds no interpreter-level lock, so the process can exit while
    it waits (a daemon thread inside ``sys.stdin.buffer.read`` aborts the interpreter at
    shutdown)."""

    CHUNK = 65536

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def _fill(self) -> bool:
        data = os.read(self.fd, self.CHUNK)
        self.buffer += data
        return bool(data)

    def readline(self, limit: int = -1, /) -> bytes:
        while b"\n" not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            if not self._fill():
                break
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        end = end if limit < 0 else min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self.buffer) < size:
            if not self._fill():
                break
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def read_message(stream: Input) -> Any | None:
    """The next message's JSON value; None at the end of the stream."""
    length = _read_headers(stream)
    if length is None:
        return None
    body = stream.read(length)
    if len(body) < length:
        return None  # the client went away mid-message
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(PARSE_ERROR, f"the message body is not JSON: {err}") from None


def _read_headers(stream: Input) -> int | None:
    length: int | None = None
    while True:
        line = stream.readline(4096)
        if not line:
            return None
        text = line.decode("ascii", errors="replace").strip()
        if not text:
            if length is None:
                continue  # stray blank lines between messages
            return length
        name, _, value = text.partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(PARSE_ERROR, f"bad Content-Length `{value}`", True) from None
            if not 0 <= length <= MAX_BODY_BYTES:
                raise ProtocolError(PARSE_ERROR, f"Content-Length {length} out of range", True)


class Writer:
    """Frames messages onto ``stream``; one writer at a time (a lock), so messages never
    interleave."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self.lock:
            self.stream.write(b"Content-Length: %d\r\n\r\n" % len(body))
            self.stream.write(body)
            self.stream.flush()

    def respond(self, id_: Any, result: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": id_, "result": result})

    def error(self, id_: Any, code: int, message: str) -> None:
        self.send({"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}})

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})


def frame(message: dict[str, Any]) -> bytes:
    """One message as framed bytes (for clients: the tests and the benchmark)."""
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body

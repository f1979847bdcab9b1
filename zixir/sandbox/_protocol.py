"""The sandbox's wire protocol: every message the host, the fork server and a worker exchange.

Standard library only: the fork server and the workers load it without the zixir package.

Two channels:

- **Control** (host <-> fork server, a SOCK_SEQPACKET socket): one pickled tuple a packet.
  The host sends ``(SPAWN, token, WorkerConfig)`` with three fds (the worker's socket end,
  its stdout and its stderr pipes), or ``(STOP,)``. The server sends ``(READY, pid)`` once,
  then ``(SPAWNED, token, pid)``, ``(FAILED, token, why)`` and ``(EXITED, pid, status)``.
- **Calls** (host <-> one worker, a SOCK_STREAM socket): frames, each an 8-byte
  little-endian length (`HEADER`) then that many bytes. The host sends a call frame (the
  pickled ``(target, args, kwargs, context)``: the worker trusts its host; context is the
  caller's trace context, or None); the worker answers every call with one report frame:
  the fixed `REPORT` struct, three UTF-8 strings (the error's type name, message and
  traceback text), the spans that ended in the worker during the call (`zixir.tracing.wire`,
  possibly empty) and a payload (the value or the error, encoded by `_payload`, possibly
  empty). A new worker first sends a `HELLO` frame.

The host does not trust what a worker sends: code in the worker may have replaced this
very module. Nothing a worker sends is unpickled by the host (unless the sandbox allows
pickle), and every frame's length is checked against a bound before a byte is allocated
for it; anything malformed raises `ProtocolError`.
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any, NamedTuple, TypedDict

__all__ = [
    "CALL_MAX",
    "CONTROL_MAX",
    "EXITED",
    "FAILED",
    "HEADER",
    "HELLO",
    "KINDS",
    "NAME_CAP",
    "READY",
    "REPORT",
    "REPORT_OVERHEAD",
    "SERVER_MESSAGE_MAX",
    "SPAWN",
    "SPAWNED",
    "STOP",
    "FrameReader",
    "Hello",
    "ProtocolError",
    "Report",
    "WorkerConfig",
    "decode_call",
    "decode_control",
    "decode_hello",
    "decode_report",
    "encode_call",
    "encode_control",
    "encode_hello",
    "encode_report",
    "recv_frame",
    "send_frame",
]

_PICKLE = 5  # out-of-band capable, and what every supported Python reads

# -- the control channel -----------------------------------------------------------------

SPAWN = "spawn"
"""Host to server: ``(SPAWN, token, config)`` with three fds; fork a worker."""
STOP = "stop"
"""Host to server: ``(STOP,)``; kill every worker and exit (closing the socket does too)."""
READY = "ready"
"""Server to host: ``(READY, server_pid)`` once started. Also a worker's `Hello` kind."""
SPAWNED = "spawned"
"""Server to host: ``(SPAWNED, token, pid)``; the worker asked for with `token` forked."""
FAILED = "failed"
"""Server to host: ``(FAILED, token, why)``; the fork asked for with `token` failed."""
EXITED = "exited"
"""Server to host: ``(EXITED, pid, wait_status)``; a worker was reaped."""

CONTROL_MAX = 1 << 18
"""Bytes of the largest packet the server reads: a spawn request, with its config."""
SERVER_MESSAGE_MAX = 4096
"""Bytes of the largest packet the host reads: the server's messages are small."""


class WorkerConfig(TypedDict):
    """What a worker needs to know, sent by the host with the spawn request."""

    sys_path: list[str]
    argv: list[str]
    cwd: str
    env: dict[str, str]
    main: tuple[str, str] | None  # ("path", file) or ("module", name): the host's __main__
    cpu_time: float | None
    memory: int | None
    data_slack: int
    track_memory: bool  # read RSS and data size after each call (memory limit, high water)
    max_output: int
    max_recursion: int
    allow_pickle: bool  # results and errors of any type may cross back by pickle


def encode_control(*message: Any) -> bytes:
    """One control packet: ``encode_control(SPAWNED, token, pid)``."""
    return pickle.dumps(message, _PICKLE)


def decode_control(packet: bytes) -> tuple[Any, ...]:
    """The message of a control packet, a tuple whose first item names its kind.

    Raises:
        ValueError: The packet is not a control message.
    """
    try:
        message = pickle.loads(packet)
    except Exception as exc:
        raise ValueError(f"not a sandbox control message: {exc}") from exc
    if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
        raise ValueError(f"not a sandbox control message: {message!r}")
    return message


# -- frames on a worker's socket ---------------------------------------------------------

HEADER = struct.Struct("<Q")
"""Every frame on a worker's socket: this 8-byte length, then that many bytes."""

CALL_MAX = 1 << 31
"""Bytes of the largest call frame a worker reads (the host refuses to encode a bigger one)."""

TEXT_CAP = 100_000
"""Characters a worker keeps of an error's message and of its traceback text."""
NAME_CAP = 1000
"""Characters a worker keeps of an error's type name."""
SPANS_MAX = 1 << 20
"""Bytes of encoded spans a report may carry (`zixir.tracing.wire.MAX_SPAN_BYTES`)."""
REPORT_OVERHEAD = (1 << 20) + SPANS_MAX
"""Bytes a report frame may hold besides its payload: the `REPORT` struct, the three
strings at their caps (4 bytes a character at worst) and the spans fit well within it."""


class ProtocolError(ValueError):
    """A peer sent something the protocol does not allow: a frame over its bound, two
    frames where one was due, a malformed report. The worker that sent it is not trusted
    with another call."""


def send_frame(sock: socket.socket, *parts: bytes | memoryview) -> None:
    """Sends one frame made of `parts` on a blocking stream socket.

    Raises:
        OSError: The peer is gone (BrokenPipeError, ConnectionResetError...).
    """
    size = sum(len(part) for part in parts)
    buffers: list[bytes | memoryview] = [HEADER.pack(size), *parts]
    sent = sock.sendmsg(buffers)
    total = size + HEADER.size
    if sent == total:
        return
    view = memoryview(b"".join(buffers))[sent:]  # rare: a frame larger than the socket buffer
    sock.sendall(view)


def recv_frame(sock: socket.socket, limit: int = CALL_MAX) -> bytes | bytearray:
    """Receives one frame on a blocking stream socket.

    Args:
        sock: The socket.
        limit: The largest frame accepted, in bytes; checked before anything is allocated.

    Raises:
        EOFError: The peer closed the socket.
        ProtocolError: The frame announces more than `limit` bytes.
    """
    first = sock.recv(65536)
    while len(first) < HEADER.size:
        more = sock.recv(HEADER.size - len(first))
        if not more:
            raise EOFError("the peer closed the socket")
        first += more
    (size,) = HEADER.unpack_from(first)
    if size > limit:
        raise ProtocolError(f"a frame of {size} bytes was announced, over the bound of {limit}")
    if len(first) == HEADER.size + size:
        return first[HEADER.size :]
    if len(first) > HEADER.size + size:
        raise ProtocolError("the peer sent more than one frame")
    body = bytearray(size)  # a big frame: read straight into its buffer
    got = len(first) - HEADER.size
    body[:got] = first[HEADER.size :]
    view = memoryview(body)
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the peer closed the socket in the middle of a frame")
        got += count
    return body


class FrameReader:
    """Assembles one frame from the chunks a non-blocking socket hands out.

    Args:
        limit: The largest frame accepted, in bytes; a bigger announced length raises
            ProtocolError before anything is allocated for it.
    """

    __slots__ = ("_body", "_got", "_head", "_limit")

    def __init__(self, limit: int) -> None:
        self._head = b""
        self._body: bytearray | None = None
        self._got = 0
        self._limit = limit

    def wanted(self) -> int:
        """How many more bytes the frame needs (at least 1)."""
        if self._body is None:
            return max(1, HEADER.size - len(self._head))
        return max(1, len(self._body) - self._got)

    def feed(self, data: bytes) -> bytes | bytearray | None:
        """Adds received bytes; returns the frame's body once complete, else None.

        Raises:
            ProtocolError: The frame announces more than the limit, or more bytes arrived
                than one frame holds.
        """
        if self._body is None:
            head = self._head + data
            if len(head) < HEADER.size:
                self._head = head
                return None
            (size,) = HEADER.unpack_from(head)
            if size > self._limit:
                raise ProtocolError(f"the worker announced a frame of {size} bytes, over the bound of {self._limit}")
            rest = len(head) - HEADER.size
            if rest == size:
                return head[HEADER.size :]
            self._body = bytearray(size)
            data = head[HEADER.size :]
        end = self._got + len(data)
        if end > len(self._body):
            raise ProtocolError("the worker sent more than one frame")
        self._body[self._got : end] = data
        self._got = end
        return self._body if end == len(self._body) else None


# -- calls, host to worker ---------------------------------------------------------------


def encode_call(
    target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], context: tuple[str, str, bool] | None = None
) -> bytes:
    """A call frame's body: `target` is a function, or ``(module, qualified_name)``.

    Args:
        target: What to call.
        args: Positional arguments.
        kwargs: Keyword arguments.
        context: The caller's trace context (trace id, span id, sampled), or None.

    Raises:
        Exception: Whatever pickle raises for something it cannot pickle.
    """
    return pickle.dumps((target, args, kwargs, context), _PICKLE)


def decode_call(
    body: bytes | bytearray,
) -> tuple[Any, tuple[Any, ...], dict[str, Any], tuple[str, str, bool] | None]:
    """The ``(target, args, kwargs, context)`` of a call frame (this imports the target's module)."""
    target, args, kwargs, context = pickle.loads(body)
    return target, args, kwargs, context


# -- reports, worker to host -------------------------------------------------------------

KINDS = ("ok", "exception", "memory", "depth", "output", "exit", "unserializable", READY)
"""How a call ended, as a worker reports it (`Report.kind`); the host maps these to
SandboxResult reasons. ``"ok"``: the payload is the value. ``"exception"``, ``"memory"``
(a MemoryError under a memory limit), ``"depth"`` (RecursionError, or a nested sandbox
refused a call as too deep): the payload is the encoded error, or empty. ``"exit"``: fn
called sys.exit (`Report.message` is the repr of a code that is not an int). ``"unserializable"``:
the value could not be encoded. ``"output"``: the encoded value was over max_output.
`READY` marks a hello frame, never a report."""
_KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}

REPORT = struct.Struct("<BBdqqqdqIIII")
"""A report frame's head: kind (index in KINDS), flags (1: children left, 2: retire, 4:
peak known, 8: exit code given), cpu, peak, rss, data, cpu_total, exit code, the UTF-8
lengths of the type name, the message and the traceback text that follow, and the length
of the encoded spans after them."""
HELLO = struct.Struct("<Bqqqd")
"""A hello frame: `READY`'s index in KINDS, pid, rss, data, cpu_total."""
_CHILDREN_LEFT, _RETIRE, _PEAK, _EXIT_CODE = 1, 2, 4, 8


class Hello(NamedTuple):
    """A new worker's first report: it is ready for calls."""

    pid: int
    rss: int  # bytes, idle (0 unless memory is tracked)
    data: int  # bytes of data segment, idle (0 unless memory is tracked)
    cpu_total: float  # CPU seconds the process has used so far


class Report(NamedTuple):
    """A worker's report on one call."""

    kind: str  # one of KINDS
    cpu: float  # CPU seconds the call used, the worker's reaped children included
    peak: int | None  # peak RSS in bytes during the call, if the kernel lets it be reset
    rss: int  # bytes resident after the call (0 unless memory is tracked)
    data: int  # bytes of data segment after the call (0 unless memory is tracked)
    cpu_total: float  # CPU seconds the worker has used so far
    children_left: bool  # the call left child processes running
    retire: bool  # the worker asks to be replaced (a MemoryError, children left...)
    exit_code: int | None  # fn's sys.exit code, for "exit"
    name: str | None  # the exception's qualified class name
    message: str | None  # its str() (or why the kind is "output")
    text: str | None  # its formatted traceback
    spans: bytes | memoryview | None = None  # spans that ended in the worker (tracing.wire)


def encode_hello(hello: Hello) -> tuple[bytes]:
    """The parts of a hello frame, for `send_frame`."""
    return (HELLO.pack(_KIND_CODES[READY], *hello),)


def _utf8(text: str | None, cap: int) -> bytes:
    return b"" if text is None else text[-cap:].encode("utf-8", "backslashreplace")


_NO_STRINGS = (b"", b"", b"")


def encode_report(
    fields: tuple[Any, ...], payload: bytes = b"", spans: bytes = b""
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
    """The parts of a report frame, for `send_frame`.

    Args:
        fields: A plain tuple of `Report`'s fields up to ``text``, in order (building a
            Report on every call would cost time). Strings past their caps are cut.
        payload: The encoded value or error (see `_payload`), or nothing.
        spans: The encoded spans (see `zixir.tracing.wire`), or nothing; at most `SPANS_MAX`.
    """
    kind, cpu, peak, rss, data, cpu_total, left, retire, exit_code, name, message, text = fields[:12]
    if len(spans) > SPANS_MAX:
        spans = b""
    flags = (
        (_CHILDREN_LEFT if left else 0)
        | (_RETIRE if retire else 0)
        | (_PEAK if peak is not None else 0)
        | (_EXIT_CODE if exit_code is not None else 0)
    )
    if name is None and message is None and text is None:  # most calls: skip the encoding
        strings = _NO_STRINGS
    else:
        strings = (_utf8(name, NAME_CAP), _utf8(message, TEXT_CAP), _utf8(text, TEXT_CAP))
    head = REPORT.pack(
        _KIND_CODES[kind],
        flags,
        cpu,
        peak or 0,
        rss,
        data,
        cpu_total,
        exit_code or 0,
        *map(len, strings),
        len(spans),
    )
    return head, *strings, spans, payload


def decode_hello(body: bytes | bytearray) -> Hello:
    """The `Hello` in a new worker's first frame.

    Raises:
        ProtocolError: The frame is not a hello (a ValueError).
    """
    if not body:
        raise ProtocolError("a sandbox worker's first frame is empty")
    kind = KINDS[body[0]] if body[0] < len(KINDS) else body[0]
    if kind != READY:
        raise ProtocolError(f"a sandbox worker's first frame is not its hello: {kind!r}")
    if len(body) != HELLO.size:
        raise ProtocolError(f"a sandbox worker's hello is {len(body)} bytes, not {HELLO.size}")
    return Hello._make(HELLO.unpack(body)[1:])


_new_report = tuple.__new__


def _text(view: memoryview, start: int, size: int) -> str | None:
    return str(view[start : start + size], "utf-8", "replace") if size else None


def decode_report(body: bytes | bytearray) -> tuple[Report, memoryview]:
    """The `Report` in a report frame, and its payload (see `_payload`).

    Raises:
        ProtocolError: The frame is not a well-formed report (a ValueError).
    """
    if len(body) < REPORT.size:
        raise ProtocolError(f"a report of {len(body)} bytes is shorter than its {REPORT.size}-byte head")
    (code, flags, cpu, peak, rss, data, cpu_total, exit_code, name_size, message_size, text_size, spans_size) = (
        REPORT.unpack_from(body)
    )
    if code >= len(KINDS) or KINDS[code] == READY:
        raise ProtocolError(f"a report names kind {code}, which does not exist")
    strings_end = REPORT.size + name_size + message_size + text_size
    end = strings_end + spans_size
    if end > len(body):
        raise ProtocolError(f"a report's strings and spans run {end - len(body)} bytes past its end")
    view = memoryview(body)
    if strings_end == REPORT.size:  # most calls: no strings
        name = message = text = None
    else:
        start = REPORT.size
        name = _text(view, start, name_size)
        message = _text(view, start + name_size, message_size)
        text = _text(view, start + name_size + message_size, text_size)
    report = _new_report(  # Report(...) without its argument parsing: this runs on every call
        Report,
        (
            KINDS[code],
            cpu,
            peak if flags & _PEAK else None,
            rss,
            data,
            cpu_total,
            bool(flags & _CHILDREN_LEFT),
            bool(flags & _RETIRE),
            exit_code if flags & _EXIT_CODE else None,
            name,
            message,
            text,
            view[strings_end:end] if spans_size else None,
        ),
    )
    return report, view[end:]

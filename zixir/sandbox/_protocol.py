"""The sandbox's wire protocol: every message the host, the fork server and a worker exchange.

Standard library only: the fork server and the workers load it without the zixir package.

Two channels:

- **Control** (host <-> fork server, a SOCK_SEQPACKET socket): one pickled tuple a packet.
  The host sends ``(SPAWN, token, WorkerConfig)`` with three fds (the worker's socket end,
  its stdout and its stderr pipes), or ``(STOP,)``. The server sends ``(READY, pid)`` once,
  then ``(SPAWNED, token, pid)``, ``(FAILED, token, why)`` and ``(EXITED, pid, status)``.
- **Calls** (host <-> one worker, a SOCK_STREAM socket): frames, each an 8-byte
  little-endian length (`HEADER`) then that many bytes. The host sends a call frame (the
  pickled ``(target, args, kwargs)``); the worker answers every call with one report
  frame: a 4-byte length (`META`), the pickled `Report` as a plain tuple, then a payload
  (the pickled value or exception, possibly empty). A new worker first sends a report
  frame holding a `Hello`.
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any, NamedTuple, TypedDict

__all__ = [
    "CONTROL_MAX",
    "EXITED",
    "FAILED",
    "HEADER",
    "KINDS",
    "META",
    "READY",
    "SERVER_MESSAGE_MAX",
    "SPAWN",
    "SPAWNED",
    "STOP",
    "FrameReader",
    "Hello",
    "Report",
    "WorkerConfig",
    "decode_call",
    "decode_control",
    "decode_hello",
    "decode_report",
    "decode_value",
    "encode_call",
    "encode_control",
    "encode_hello",
    "encode_report",
    "encode_value",
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


def recv_frame(sock: socket.socket) -> bytes | bytearray:
    """Receives one frame on a blocking stream socket.

    Raises:
        EOFError: The peer closed the socket.
    """
    first = sock.recv(65536)
    while len(first) < HEADER.size:
        more = sock.recv(HEADER.size - len(first))
        if not more:
            raise EOFError("the peer closed the socket")
        first += more
    (size,) = HEADER.unpack_from(first)
    if len(first) == HEADER.size + size:
        return first[HEADER.size :]
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
    """Assembles one frame from the chunks a non-blocking socket hands out."""

    __slots__ = ("_body", "_got", "_head")

    def __init__(self) -> None:
        self._head = b""
        self._body: bytearray | None = None
        self._got = 0

    def wanted(self) -> int:
        """How many more bytes the frame needs (at least 1)."""
        if self._body is None:
            return max(1, HEADER.size - len(self._head))
        return max(1, len(self._body) - self._got)

    def feed(self, data: bytes) -> bytes | bytearray | None:
        """Adds received bytes; returns the frame's body once complete, else None.

        Raises:
            ValueError: More bytes arrived than one frame holds (a protocol error).
        """
        if self._body is None:
            head = self._head + data
            if len(head) < HEADER.size:
                self._head = head
                return None
            (size,) = HEADER.unpack_from(head)
            rest = len(head) - HEADER.size
            if rest == size:
                return head[HEADER.size :]
            self._body = bytearray(size)
            data = head[HEADER.size :]
        end = self._got + len(data)
        if end > len(self._body):
            raise ValueError("the worker sent more than one frame")
        self._body[self._got : end] = data
        self._got = end
        return self._body if end == len(self._body) else None


# -- calls, host to worker ---------------------------------------------------------------


def encode_call(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """A call frame's body: `target` is a function, or ``(module, qualified_name)``.

    Raises:
        Exception: Whatever pickle raises for something it cannot pickle.
    """
    return pickle.dumps((target, args, kwargs), _PICKLE)


def decode_call(body: bytes | bytearray) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The ``(target, args, kwargs)`` of a call frame (this imports the target's module)."""
    target, args, kwargs = pickle.loads(body)
    return target, args, kwargs


# -- reports, worker to host -------------------------------------------------------------

META = struct.Struct("<I")
"""A report frame's body: this length of the pickled report tuple, the tuple, a payload."""

KINDS = ("ok", "exception", "memory", "depth", "output", "exit", "unserializable")
"""How a call ended, as a worker reports it (`Report.kind`); the host maps these to
SandboxResult reasons. ``"ok"``: the payload is the value. ``"exception"``, ``"memory"``
(a MemoryError under a memory limit), ``"depth"`` (RecursionError, or a nested sandbox
refused a call as too deep): the payload is the exception if it pickled, else empty.
``"exit"``: fn called sys.exit. ``"unserializable"``: the value did not pickle.
``"output"``: the pickled value was over max_output."""


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


def encode_hello(hello: Hello) -> tuple[bytes, bytes, bytes]:
    """The parts of a hello frame, for `send_frame`."""
    return encode_report((READY, *hello))


def encode_report(fields: tuple[Any, ...], payload: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """The parts of a report frame, for `send_frame`.

    Args:
        fields: A plain tuple of `Report`'s fields, in order. Not a Report: that would
            pickle by class, and the worker's copy of this module has another import name
            (and building one would cost time on every call).
        payload: The pickled value or exception (see `encode_value`), or nothing.
    """
    encoded = pickle.dumps(fields, _PICKLE)
    return META.pack(len(encoded)), encoded, payload


def decode_hello(body: bytes | bytearray) -> Hello:
    """The `Hello` in a new worker's first frame.

    Raises:
        ValueError: The frame is not a hello.
    """
    (size,) = META.unpack_from(body)
    fields = pickle.loads(body[META.size : META.size + size])
    if fields[0] != READY:
        raise ValueError(f"a sandbox worker's first frame is not its hello: {fields[0]!r}")
    return Hello._make(fields[1:])


def decode_report(body: bytes | bytearray) -> tuple[Report, memoryview]:
    """The `Report` in a report frame, and its payload (see `decode_value`)."""
    (size,) = META.unpack_from(body)
    end = META.size + size
    return Report._make(pickle.loads(body[META.size : end])), memoryview(body)[end:]


def encode_value(value: Any) -> bytes:
    """A report's payload: a call's value or exception.

    Raises:
        BaseException: Whatever pickle raises for something it cannot pickle.
    """
    return pickle.dumps(value, _PICKLE)


def decode_value(payload: bytes | memoryview) -> Any:
    """A report's payload back to its value or exception.

    Raises:
        Exception: Whatever unpickling raises (a class not importable here, an exception
            whose __init__ its args do not fit...).
    """
    return pickle.loads(payload)

"""Process plumbing shared by the host, the fork server and the workers: frames, trees, prctl.

Standard library only: the fork server loads this file without importing the zixir package.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct

__all__ = [
    "FrameReader",
    "HEADER",
    "PR_SET_CHILD_SUBREAPER",
    "PR_SET_PDEATHSIG",
    "children",
    "descendants",
    "flush_c_stdio",
    "kill_tree",
    "prctl",
    "recv_frame",
    "send_frame",
]

HEADER = struct.Struct("<Q")
"""Every frame on a worker's socket: this 8-byte length, then that many bytes."""

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def flush_c_stdio() -> None:
    """Flushes C stdio buffers (``fflush(NULL)``): output printed by C code reaches the fds."""
    _c().fflush(None)


def prctl(option: int, value: int) -> None:
    """Calls Linux ``prctl(option, value)``.

    Raises:
        OSError: The call failed (or this is not Linux).
    """
    if _c().prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}): {os.strerror(errno)}")


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
        return first[HEADER.size:]
    body = bytearray(size)  # a big frame: read straight into its buffer
    got = len(first) - HEADER.size
    body[:got] = first[HEADER.size:]
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
                return head[HEADER.size:]
            self._body = bytearray(size)
            data = head[HEADER.size:]
        end = self._got + len(data)
        if end > len(self._body):
            raise ValueError("the worker sent more than one frame")
        self._body[self._got:end] = data
        self._got = end
        return self._body if end == len(self._body) else None


def children(pid: int) -> list[int]:
    """The live children of `pid`, from ``/proc/<pid>/task/*/children`` (Linux)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found.extend(int(child) for child in file.read().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, read from ``/proc/<pid>/task/*/children`` (Linux).

    Cheaper than psutil's recursive scan, which reads all of /proc. Processes that escaped
    (their parent died and they were re-parented) are not below `pid` any more.
    """
    found: list[int] = []
    queue = [pid]
    seen = {pid}
    while queue:
        for child in children(queue.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                queue.append(child)
    return found


def kill_tree(pid: int, pgid: int | None = None) -> list[int]:
    """SIGKILLs `pid`, every process below it and the process group `pgid` (Linux).

    The tree is collected before anything is killed: a killed parent's children are
    re-parented and no longer found under it. Group leaders found in the tree (processes
    that called setsid or setpgid) have their whole groups killed too.

    Returns:
        The pids that were signalled (some may have exited already).
    """
    tree = [pid, *descendants(pid)]
    groups = [] if pgid is None or pgid <= 1 else [pgid]
    for p in tree[1:]:
        try:
            if os.getpgid(p) == p:
                groups.append(p)
        except OSError:
            pass
    for group in groups:  # first the groups: killpg is atomic against fork in the group
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    signalled: list[int] = []
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            continue
        signalled.append(p)
    return signalled

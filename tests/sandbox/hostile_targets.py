"""Functions that attack their host from a sandbox worker, or damage the worker itself.

Standard library only (like sandbox_targets): a fresh worker imports this module quickly.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from typing import Any

__all__ = [
    "ExitBomb",
    "Refused",
    "close_stdout",
    "close_stdout_and_its_copies",
    "close_sys_stdout",
    "exit_with_message",
    "forge",
    "print_both_ways",
    "raise_exit_bomb",
    "raise_refused",
    "redirect_stdout_to_devnull",
    "return_exit_bomb",
    "with_fdopen_stdout",
]

_SOCKET = 3  # the worker's socket to its host


class ExitBomb(Exception):
    """Unpickling this runs os._exit(0): in the host, that would end the host."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os._exit, (0,))


class _ExitBombValue:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os._exit, (0,))


class Refused(Exception):
    """An ordinary custom exception: it pickles and unpickles."""


def raise_refused(message: str) -> None:
    raise Refused(message)


def raise_exit_bomb() -> None:
    raise ExitBomb("boom")


def return_exit_bomb() -> object:
    return _ExitBombValue()


def forge(wire: bytes, then_exit: bool) -> None:
    """Writes `wire` to the host as if it were the worker's report, then exits or waits."""
    os.write(_SOCKET, wire)
    if then_exit:
        os._exit(0)
    threading.Event().wait()


def header(size: int) -> bytes:
    return struct.pack("<Q", size)


def print_both_ways(text: str) -> int:
    """Prints through sys.stdout and straight to fd 1; returns the worker's pid."""
    print(text, flush=True)
    os.write(1, f"{text} (fd)\n".encode())
    return os.getpid()


def close_stdout() -> int:
    os.close(1)
    return os.getpid()


def with_fdopen_stdout() -> int:
    with os.fdopen(1, "w") as out:
        out.write("inside\n")
    return os.getpid()


def close_sys_stdout() -> int:
    sys.stdout.close()
    return os.getpid()


def redirect_stdout_to_devnull() -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return os.getpid()


def close_stdout_and_its_copies() -> int:
    """Closes fd 1 and every fd above the socket: the worker cannot put fd 1 back."""
    os.close(1)
    os.closerange(_SOCKET + 1, 1024)
    return os.getpid()


def exit_with_message(message: str) -> None:
    sys.exit(message)

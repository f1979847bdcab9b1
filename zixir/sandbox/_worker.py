"""The worker loop: runs the calls the host sends, under limits, and reports how each ended.

Standard library only at import (`_payload` loads zixir.serialization when a result needs
it). It runs in a process forked from the fork server, never in the host.
"""

from __future__ import annotations

import fcntl
import importlib
import io
import math
import os
import resource
import signal
import socket
import sys
import time
import traceback
import types
from typing import Any, NoReturn

from . import _payload, _process, _procfs, _protocol
from ._protocol import WorkerConfig

__all__ = ["serve"]

_DEFAULT_RECURSION = 1000
# Seconds a worker polls for its next call before it sleeps in recv, when calls come back
# to back: waking a sleeping process costs tens of microseconds on a virtual machine.
_SPIN = 0.0002
_BACK_TO_BACK = 0.001  # a call that came this soon after the last result did


class _HostMain(types.ModuleType):
    """Stands in for the host's ``__main__``: runs the host's main script on first use.

    Like multiprocessing's spawn start method, the script runs under the name
    ``__mp_main__``, so code guarded by ``if __name__ == "__main__":`` does not run.
    """

    def __init__(self, how: tuple[str, str]) -> None:
        super().__init__("__mp_main__")
        self.__dict__["_zixir_how"] = how

    def __getattr__(self, name: str) -> Any:
        how = self.__dict__.pop("_zixir_how", None)
        if how is None or name.startswith("__"):
            raise AttributeError(f"the host's __main__ has no attribute {name!r}")
        import runpy

        kind, where = how
        if kind == "path":
            namespace = runpy.run_path(where, run_name="__mp_main__")
        else:
            namespace = runpy.run_module(where, run_name="__mp_main__", alter_sys=False)
        self.__dict__.update({k: v for k, v in namespace.items() if k != "__name__"})
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(
                f"the host's __main__ ({where}) has no attribute {name!r}; "
                "was it defined under `if __name__ == '__main__':`?"
            ) from None


def _setup_process(server_pid: int, sock_fd: int, out_fd: int, err_fd: int, config: WorkerConfig) -> socket.socket:
    """Turns the freshly forked child of the fork server into a worker."""
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)
    _process.prctl(_process.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid:
        os._exit(0)
    _process.prctl(_process.PR_SET_CHILD_SUBREAPER, 1)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    for fd in {devnull, out_fd, err_fd} - {0, 1, 2}:
        os.close(fd)
    if sock_fd != 3:
        os.dup2(sock_fd, 3, inheritable=False)
        os.close(sock_fd)
    os.closerange(4, os.sysconf("SC_OPEN_MAX"))
    sys.stdout = _text_stream(1)
    sys.stderr = _text_stream(2)
    os.environ.clear()
    os.environ.update(config["env"])
    try:
        os.chdir(config["cwd"])
    except OSError:
        pass
    sys.path[:] = config["sys_path"]
    sys.argv[:] = config["argv"]
    importlib.invalidate_caches()
    if config["main"] is not None:
        sys.modules["__main__"] = sys.modules["__mp_main__"] = _HostMain(config["main"])
    return socket.socket(fileno=3)


def _text_stream(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace")


_STANDARD_FDS = (0, 1, 2)
_COPIES_BELOW = 1024  # the worker's copies of fds 0-2 sit just below this (or the fd limit)


def _frames() -> int:
    frame: types.FrameType | None = sys._getframe(1)
    count = 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count


_TRACING = "zixir.tracing.wire"
_EXPORT = "zixir.tracing.export"


def _tracing(context: object) -> Any:
    """`zixir.tracing.wire` when the call carries a trace context or the worker already
    loaded tracing; None otherwise, and the worker never loads it."""
    if context is None and _EXPORT not in sys.modules:
        return None
    return importlib.import_module(_TRACING)


def _resolve(target: object) -> Any:
    if isinstance(target, tuple):  # ("module", "qualified.name"), from Sandbox.run_module
        module, qualname = target
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    return target


def _is_depth_refusal(error: Any) -> bool:
    """A nested sandbox's SandboxError for a call refused as too deep passes on as "depth"."""
    result = getattr(error, "result", None)
    return (
        type(error).__name__ == "SandboxError"
        and getattr(result, "reason", None) == "depth"
        and isinstance(getattr(result, "error", None), BaseException)
    )


def _below(soft: int, hard: int) -> int:
    return soft if hard == resource.RLIM_INFINITY else min(soft, hard)


def _children_left() -> bool:
    """Reaps finished children; True if some are still running (they will be killed)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _exit_code(error: SystemExit) -> tuple[int, str | None]:
    """The exit status sys.exit(code) gives a process, and the repr of a code that is not an
    int (which Python would print to stderr on its way out)."""
    code = error.code
    if code is None:
        return 0, None
    if isinstance(code, int):
        return code, None
    try:
        shown = repr(code)[: _protocol.TEXT_CAP]
    except Exception:
        shown = f"<{type(code).__qualname__} whose repr() raised>"
    return 1, shown


def _describe(error: BaseException) -> tuple[str, str, str]:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    name = name[: _protocol.NAME_CAP]
    try:
        message = str(error)[: _protocol.TEXT_CAP]
    except Exception:
        message = f"<{name} whose str() raised>"
    try:
        text = "".join(traceback.format_exception(error))[-_protocol.TEXT_CAP :]
    except Exception:
        text = f"{name}: {message}\n"
    return name, message, text


class _Worker:
    """One worker's state between calls."""

    def __init__(self, sock: socket.socket, config: WorkerConfig) -> None:
        self.sock = sock
        self.config = config
        self.memory = config["memory"]
        self.cpu_time = config["cpu_time"]
        self.max_output = config["max_output"]
        self.max_recursion = config["max_recursion"]
        self.allow_pickle = config["allow_pickle"]
        own = _procfs.OwnMemory(track=config["track_memory"])
        self.memory_usage, self.reset_peak = own.usage, own.reset_peak  # bound once: per call
        self.peak_known = own.peak_resettable
        self.stdout, self.stderr = sys.stdout, sys.stderr
        # A private copy of fds 0-2, put back after every call, so a call that closes or
        # replaces one (os.close(1), ``with os.fdopen(1, "w")``, a dup2) leaves no trace on
        # the next. High numbers: a call's own files, which take the lowest free fds, do not
        # land there even if it closes the copies.
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        base = max(4, min(soft, _COPIES_BELOW) - len(_STANDARD_FDS) - 1)
        self.std_fds = tuple((fd, fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base)) for fd in _STANDARD_FDS)
        self.base_frames: int | None = None
        self.idle_data = 0
        self.cpu = 0.0  # CPU seconds of this process and its reaped children, at the last call
        self.cpu_soft, self.cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        self.data_soft, self.data_hard = resource.getrlimit(resource.RLIMIT_DATA)
        self.sent_at = -math.inf  # when the last result went out (time.monotonic)
        self.back_to_back = False

    def measure(self) -> tuple[int | None, int, int]:
        """Returns (peak RSS since the last reset or None, RSS, data-segment size) in bytes.

        Also updates `cpu`. RSS and data size are 0 unless memory is tracked (a memory limit
        or a high-water mark): reading them costs a /proc read per call.
        """
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        rss, data = self.memory_usage()
        return (own.ru_maxrss * 1024 if self.peak_known else None), rss, data

    def send(self, parts: tuple[bytes, ...]) -> None:
        try:
            _protocol.send_frame(self.sock, *parts)
        except OSError:
            os._exit(0)  # the host is gone
        self.sent_at = time.monotonic()

    def serve(self) -> None:
        _, rss, self.idle_data = self.measure()
        self.send(_protocol.encode_hello(_protocol.Hello(os.getpid(), rss, self.idle_data, self.cpu)))
        while True:
            try:
                if self.back_to_back:
                    self.await_call()
                frame = _protocol.recv_frame(self.sock, _protocol.CALL_MAX)
            except (EOFError, OSError, _protocol.ProtocolError):
                return
            self.back_to_back = time.monotonic() - self.sent_at < _BACK_TO_BACK
            self.call(frame)

    def await_call(self) -> None:
        """Polls the socket without sleeping until a call comes, for at most _SPIN seconds."""
        sock, start = self.sock, time.monotonic()
        end = start + _SPIN
        while (now := time.monotonic()) < end:
            try:
                sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK)
            except BlockingIOError:
                continue
            break  # a call, or the end of the socket: recv_frame reads either
        self.cpu += now - start  # CPU spent spinning (as much as the time) is not the call's

    def limit(self) -> None:
        """Sets this call's rlimit backstops and resets the peak-RSS counter.

        RLIMIT_CPU counts whole seconds over the process's life, so its soft limit moves to
        the CPU used so far plus `cpu_time` plus 1 s, rounded up. That value changes once per
        CPU second at most, and RLIMIT_DATA's only when the idle data size does: a quick
        call makes no setrlimit call at all.
        """
        if self.cpu_time is not None:
            soft = _below(math.ceil(self.cpu + self.cpu_time + 1.0), self.cpu_hard)
            if soft != self.cpu_soft:
                self.cpu_soft = soft
                resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))
        if self.memory is not None:
            soft = _below(self.idle_data + self.memory + self.config["data_slack"], self.data_hard)
            if soft != self.data_soft:
                self.data_soft = soft
                resource.setrlimit(resource.RLIMIT_DATA, (soft, self.data_hard))
        self.reset_peak()  # so ru_maxrss is this call's

    def call(self, frame: bytes | bytearray) -> None:
        cpu_before = self.cpu
        self.limit()
        if self.base_frames is None:
            self.base_frames = _frames()
        kind, value, exit_code, shown_code = "ok", None, None, None
        spans = b""
        error: Any = None
        sys.setrecursionlimit(self.base_frames + self.max_recursion + 3)
        try:
            target, args, kwargs, context = _protocol.decode_call(frame)
            tracing = _tracing(context)
            traced = None if tracing is None else tracing.begin(context)
            try:
                value = _resolve(target)(*args, **kwargs)
            finally:
                if tracing is not None:
                    spans = tracing.end(traced)
                elif _EXPORT in sys.modules:  # fn loaded tracing: its spans are in the ring
                    spans = importlib.import_module(_TRACING).end(None, from_ring=True)
        except MemoryError as exc:
            kind, error = "memory" if self.memory is not None else "exception", exc
        except RecursionError as exc:
            kind, error = "depth", exc
        except SystemExit as exc:
            kind, error = "exit", exc
            exit_code, shown_code = _exit_code(exc)
        except BaseException as exc:
            kind, error = "exception", exc
            while _is_depth_refusal(error):  # a nested sandbox refused a call as too deep:
                kind, error = "depth", error.result.error  # pass on the innermost error
        finally:
            sys.setrecursionlimit(max(_DEFAULT_RECURSION, self.base_frames + 100))
        streams_lost = not self.restore_streams()
        left = _children_left()
        retire = isinstance(error, MemoryError) or left or streams_lost
        name = message = text = None
        payload = b""
        if error is not None:
            name, message, text = _describe(error)
            if isinstance(error, MemoryError):
                traceback.clear_frames(error.__traceback__)  # the frames hold the allocation
            error.__traceback__ = None
            if kind == "exit":
                message = shown_code
            else:
                payload = _payload.encode_error(error, self.allow_pickle, self.max_output)
            error = None
        else:
            try:
                payload = _payload.encode_value(value, self.allow_pickle)
            except BaseException as exc:
                out_of_memory = isinstance(exc, MemoryError)
                kind = "memory" if out_of_memory and self.memory is not None else "unserializable"
                cause = exc.__cause__ if self.allow_pickle and exc.__cause__ is not None else exc
                name, message, text = _describe(cause)  # pickle's own error, when it failed
                retire = retire or out_of_memory
            value = None
            if len(payload) > self.max_output:
                kind, message = (
                    "output",
                    (f"the result is {len(payload)} bytes serialized, over max_output={self.max_output}"),
                )
                payload = b""
        peak, rss, self.idle_data = self.measure()
        self.send(
            _protocol.encode_report(  # _protocol.Report's fields
                (
                    kind,
                    self.cpu - cpu_before,
                    peak,
                    rss,
                    self.idle_data,
                    self.cpu,
                    left,
                    retire,
                    exit_code,
                    name,
                    message,
                    text,
                ),
                payload,
                spans,
            )
        )

    def restore_streams(self) -> bool:
        """Flushes Python's and C's stdout and stderr; puts back the streams and the fds
        0-2 fn closed or replaced.

        Returns:
            False if a standard fd could not be put back (fn closed its private copy too):
            the worker must be replaced.
        """
        if sys.stdout is not self.stdout or sys.stderr is not self.stderr:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    continue
            sys.stdout, sys.stderr = self.stdout, self.stderr
        intact = True
        try:
            for fd, copy in self.std_fds:  # unconditionally: a dup2 costs less than a check
                os.dup2(copy, fd)
        except OSError:  # fn closed the copy too
            intact = False
        if self.stdout.closed or self.stderr.closed:  # fn called sys.stdout.close()
            self.stdout, self.stderr = _text_stream(1), _text_stream(2)
            sys.stdout, sys.stderr = self.stdout, self.stderr
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except Exception:
                continue
        _process.flush_c_stdio()
        return intact


def serve(sock_fd: int, out_fd: int, err_fd: int, config: WorkerConfig, server_pid: int) -> NoReturn:
    """Runs a worker in the process the fork server just forked; never returns.

    Args:
        sock_fd: The worker's end of its socket to the host.
        out_fd: The write end of the pipe the host reads the worker's stdout from.
        err_fd: The same for stderr.
        config: Limits, environment, sys.path and working directory to take on.
        server_pid: The fork server's pid (the worker dies with it).
    """
    code = 70
    try:
        worker = _Worker(_setup_process(server_pid, sock_fd, out_fd, err_fd, config), config)
        worker.serve()
        code = 0
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)

"""One call on one worker: send it, wait on the worker's pipes, enforce the limits, read the end.

The host waits in poll() at most 20 ms at a time; only a call still running after that reads
/proc for CPU time and memory, so a quick call costs no /proc read at all. When the worker's
last call was quick and no other call runs, the host first polls without sleeping for a
moment (`SPIN`): waking a sleeping thread costs tens of microseconds on a virtual machine,
as much as a quick call.
"""

from __future__ import annotations

import math
import os
import select
import signal
import time
from dataclasses import dataclass
from typing import Any, cast

from zixir.errors import (
    SandboxClosedError,
    SandboxLimitError,
    SandboxTimeoutError,
    SerializationError,
    WorkerCrashedError,
)
from zixir.sandbox import _payload, _procfs, _protocol
from zixir.sandbox.pool import Worker
from zixir.sandbox.result import Reason, SandboxResult
from zixir.sandbox.units import format_memory

__all__ = ["QUICK", "SPIN", "Call", "Limits", "execute"]

SPIN = 0.0001
"""Seconds the host polls for a quick call's result before it sleeps in poll()."""
QUICK = 0.0005
"""The host spins when the worker's last call took less than this many seconds: well above
SPIN, so a quick call made slower by a sleeping host does not switch spinning off for the
next."""

_EXIT_REPORT_WAIT = 2.0  # seconds to wait for the fork server's word on a dead worker
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits the host enforces while a call runs (the worker sets the rlimit backstops).

    Attributes:
        timeout: Wall-clock seconds, or None.
        cpu_time: CPU seconds of the worker and its children, or None.
        memory: Bytes of RSS growth above the worker's idle size, or None.
        max_output: Bytes of stdout, and of stderr, kept; more stops the call. Also the
            bound of a result's encoded value or error.
        allow_pickle: Results and errors of any type may come back by pickle (the worker
            is trusted).
        interval: Seconds between checks of CPU time and memory (<= 0.02).
    """

    timeout: float | None
    cpu_time: float | None
    memory: int | None
    max_output: int
    allow_pickle: bool = False
    interval: float = 0.02

    @property
    def max_frame(self) -> int:
        """Bytes of the largest report frame a worker may send; a longer one is refused
        before anything is allocated for it, and its worker killed."""
        return self.max_output + _protocol.REPORT_OVERHEAD


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Call:
    """The host's side of one call in flight."""

    def __init__(self, worker: Worker, limits: Limits, alone: bool) -> None:
        self.worker = worker
        self.limits = limits
        self.alone = alone
        self.start = time.monotonic()
        self.deadline = math.inf if limits.timeout is None else self.start + limits.timeout
        self.out = bytearray()
        self.err = bytearray()
        self.over = False
        self.reader = _protocol.FrameReader(limits.max_frame)
        self.peak: int | None = None
        self.cpu = 0.0

    # -- sending and receiving -------------------------------------------------------------

    def send(self, payload: bytes) -> SandboxResult | None:
        """Sends the call; a result if it ended before it was sent (a dead worker, a timeout)."""
        sock = self.worker.sock
        header = _protocol.HEADER.pack(len(payload))
        try:
            sent = sock.sendmsg([header, payload])
        except BlockingIOError:
            sent = 0
        except OSError:
            return self.died()
        rest = memoryview(header + payload)[sent:] if sent < len(header) + len(payload) else None
        while rest:
            _, writable, _ = select.select([], [sock], [], self.limits.interval)
            if time.monotonic() >= self.deadline:
                return self.stop("timeout")
            if self.worker.exited.is_set():
                return self.died()
            if writable:
                try:
                    rest = rest[sock.send(rest) :]
                except BlockingIOError:
                    continue
                except OSError:
                    return self.died()
        return None

    def receive(self) -> bytes | bytearray | None:
        """Reads what the socket has; the frame once complete. Raises EOFError at EOF."""
        try:
            data = self.worker.sock.recv(max(_CHUNK, min(self.reader.wanted(), 1 << 22)))
        except BlockingIOError:
            return None
        except OSError as exc:
            raise EOFError from exc
        if not data:
            raise EOFError
        return self.reader.feed(data)

    def capture(self, fd: int) -> None:
        """Reads a stdout or stderr pipe; notes when a stream goes over max_output."""
        buffer = self.out if fd == self.worker.out_fd else self.err
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if not data:
            self.worker.poller.unregister(fd)  # fn closed its fd, or the worker is gone
            return
        room = self.limits.max_output - len(buffer)
        if len(data) > room:
            self.over = True
            data = data[: max(room, 0)]
        buffer += data

    def drain(self) -> None:
        """Reads whatever output is already in the pipes, without waiting."""
        for _ in range(64):
            ready = [fd for fd, _ in self.worker.poller.poll(0) if fd != self.worker.sock.fileno()]
            if not ready:
                return
            for fd in ready:
                self.capture(fd)

    # -- the wait ------------------------------------------------------------------------

    def spin(self) -> None:
        """Polls without sleeping until the worker answers or writes, for at most SPIN
        seconds (poll(0) releases the GIL on every round, so other threads run)."""
        poll, clock = self.worker.poller.poll, time.monotonic
        end = min(self.start + SPIN, self.deadline)
        while clock() < end and not poll(0):
            pass

    def wait(self) -> SandboxResult:
        worker, limits = self.worker, self.limits
        if self.alone and worker.last_duration < QUICK:
            self.spin()
        sock_fd = worker.sock.fileno()
        probing = limits.cpu_time is not None or limits.memory is not None
        next_probe = self.start + limits.interval if probing else math.inf
        while True:
            now = time.monotonic()
            timeout = min(self.deadline, next_probe, now + limits.interval) - now
            readable = False
            events = worker.poller.poll(max(0, math.ceil(timeout * 1000)))
            for fd, _ in events:  # output first: it was written before the result
                if fd == sock_fd:
                    readable = True
                else:
                    self.capture(fd)
            if readable:
                try:
                    body = self.receive()
                except EOFError:
                    return self.died()
                except _protocol.ProtocolError as exc:
                    return self.broken(exc)
                if body is not None:
                    return self.finish(body, drain=len(events) > 1)
            if self.over:
                return self.stop("output")
            now = time.monotonic()
            if now >= self.deadline:
                return self.stop("timeout")
            if worker.exited.is_set():
                return self.died()
            if now >= next_probe:
                verdict = self.probe()
                if verdict is not None:
                    return verdict
                next_probe = time.monotonic() + limits.interval

    def probe(self) -> SandboxResult | None:
        pid = self.worker.pid
        usage = None if pid is None else _procfs.tree_usage(pid)
        if usage is None:
            return None
        cpu, rss = usage
        self.cpu = max(self.cpu, cpu - self.worker.cpu_total)
        self.peak = rss if self.peak is None else max(self.peak, rss)
        limits = self.limits
        if limits.cpu_time is not None and self.cpu > limits.cpu_time:
            return self.stop("cpu")
        if limits.memory is not None and rss - self.worker.idle_rss > limits.memory:
            return self.stop("memory", rss - self.worker.idle_rss)
        return None

    # -- endings -------------------------------------------------------------------------

    def result(
        self,
        reason: Reason | None,
        error: BaseException | None,
        value: Any = None,
        *,
        traceback: str | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        cpu: float | None = None,
        peak: int | None = None,
    ) -> SandboxResult:
        if self.over and reason is None:  # the call returned, but printed too much first
            reason, value = "output", None
            error = SandboxLimitError(
                f"the call wrote more than max_output={self.limits.max_output} bytes to stdout or stderr",
                "output",
                self.limits.max_output,
                self.limits.max_output + 1,
            )
        return SandboxResult(
            value,
            reason,
            error,
            traceback,
            self.out.decode("utf-8", "replace") if self.out else "",
            self.err.decode("utf-8", "replace") if self.err else "",
            exit_code,
            signal,
            time.monotonic() - self.start,
            self.cpu if cpu is None else cpu,
            self.peak if peak is None else peak,
            self.worker.pid,
        )

    def stop(self, reason: Reason, used: float | None = None) -> SandboxResult:
        """Kills the worker's process tree for going over a limit."""
        self.worker.kill()
        self.drain()
        limits = self.limits
        error: BaseException
        if reason == "timeout":
            assert limits.timeout is not None
            elapsed = time.monotonic() - self.start
            error = SandboxTimeoutError(
                f"the call ran past timeout={limits.timeout}s; its worker was killed",
                "timeout",
                limits.timeout,
                elapsed,
            )
        elif reason == "cpu":
            assert limits.cpu_time is not None
            error = SandboxLimitError(
                f"the call used {self.cpu:.2f}s of CPU, over cpu_time={limits.cpu_time}s; its worker was killed",
                "cpu",
                limits.cpu_time,
                self.cpu,
            )
        elif reason == "memory":
            assert limits.memory is not None and used is not None
            error = SandboxLimitError(
                f"the call grew its worker's memory by {format_memory(used)}, over memory="
                f"{format_memory(limits.memory)}; its worker was killed",
                "memory",
                limits.memory,
                used,
            )
        else:
            error = SandboxLimitError(
                f"the call wrote more than max_output={limits.max_output} "
                "bytes to stdout or stderr; its worker was killed",
                "output",
                limits.max_output,
                limits.max_output + 1,
            )
        return self.result(reason, error)

    def died(self) -> SandboxResult:
        """The worker's socket closed or the fork server reported it dead: how did it end?"""
        worker = self.worker
        try:  # it may have finished sending a result just before it died
            while select.select([worker.sock], [], [], 0)[0]:
                body = self.receive()
                if body is not None:
                    return self.finish(body)
        except EOFError:
            pass
        except _protocol.ProtocolError as exc:
            return self.broken(exc)
        if worker.cancelled:
            self.drain()
            return self.result("crashed", WorkerCrashedError("the call was cancelled; its worker was killed"))
        if worker.closed_by_pool:
            self.drain()
            return self.result(
                "crashed", SandboxClosedError("the sandbox was closed while the call ran; its worker was killed")
            )
        if not worker.exited.wait(_EXIT_REPORT_WAIT):  # e.g. fn closed the socket's fd
            worker.kill()
        self.drain()
        status = worker.status
        if status is None:
            return self.result("crashed", WorkerCrashedError("the worker died; its exit status is unknown"))
        if not os.WIFSIGNALED(status):
            code = os.waitstatus_to_exitcode(status)
            return self.result(
                "crashed", WorkerCrashedError(f"the worker exited with status {code}", exit_code=code), exit_code=code
            )
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:  # the RLIMIT_CPU backstop
            limit = math.nan if self.limits.cpu_time is None else self.limits.cpu_time
            return self.result(
                "cpu",
                SandboxLimitError("the worker went over its RLIMIT_CPU backstop (SIGXCPU)", "cpu", limit, self.cpu),
                signal=number,
            )
        return self.result(
            "crashed",
            WorkerCrashedError(f"the worker was killed by signal {number} ({_signal_name(number)})", signal=number),
            signal=number,
        )

    def broken(self, error: _protocol.ProtocolError) -> SandboxResult:
        """The worker sent what the protocol does not allow: it is killed, not believed."""
        self.worker.kill()
        self.drain()
        return self.result(
            "crashed",
            WorkerCrashedError(f"the worker broke the sandbox protocol ({error}); it was killed and replaced"),
        )

    def finish(self, body: bytes | bytearray, *, drain: bool = True) -> SandboxResult:
        """Reads the worker's report of how the call ended.

        Args:
            body: The report frame.
            drain: Read the output pipes first. Not needed when the poll that found the
                frame found no output: the socket is polled first, so output written before
                the frame would have shown too.
        """
        worker = self.worker
        try:
            report, payload = _protocol.decode_report(body)
        except _protocol.ProtocolError as exc:
            return self.broken(exc)
        (kind, cpu, peak, rss, _, cpu_total, left, retire, exit_code, name, message, text, spans) = (
            report  # Report's fields, unpacked at once: this runs on every call
        )
        if spans is not None:  # the call ran in a trace: its worker-side spans join it here
            from zixir.tracing import wire

            wire.receive(spans)
        idle = worker.idle_rss
        worker.idle_rss, worker.cpu_total = rss, cpu_total
        worker.retire = bool(retire or left)
        if drain:
            self.drain()
        if self.peak is not None:
            peak = max(self.peak, peak or 0)
        memory = self.limits.memory
        if memory is not None and peak is not None and peak - idle > memory and kind != "memory":
            # A spike between two polls: the call went over, even if it got back under.
            worker.retire = True
            return self.result(
                "memory",
                SandboxLimitError(
                    f"the call grew its worker's memory by {format_memory(peak - idle)} at its "
                    f"peak, over memory={format_memory(memory)}; its worker was replaced",
                    "memory",
                    memory,
                    peak - idle,
                ),
                cpu=cpu,
                peak=peak,
            )
        allow_pickle = self.limits.allow_pickle
        if kind == "ok":
            try:
                value = _payload.decode_value(payload, allow_pickle)
            except Exception as exc:  # SerializationError, or a pickle that failed to load
                return self.result(
                    "exception",
                    SerializationError(
                        "the call's result came back but cannot be "
                        f"{'unpickled' if allow_pickle else 'decoded'} in this process: {type(exc).__name__}: {exc}"
                    ),
                    cpu=cpu,
                    peak=peak,
                )
            return self.result(None, None, value, cpu=cpu, peak=peak)
        if kind == "exit":
            # message: the repr of a code that is not an int, which sys.exit turns into 1
            called = f"fn called sys.exit({exit_code})" if message is None else f"fn called sys.exit({message})"
            return self.result(
                "crashed",
                WorkerCrashedError(
                    called if message is None else f"{called}: exit status {exit_code}", exit_code=exit_code
                ),
                traceback=text,
                exit_code=exit_code,
                cpu=cpu,
                peak=peak,
            )
        if kind == "unserializable":
            if allow_pickle:
                why = f"the call's result cannot be pickled to send it back: {name}: {message}"
            else:
                why = (
                    f"the call's result cannot be sent back: {message} (results cross as "
                    "zixir.serialization data; register a dataclass in the module that defines "
                    "it, or create the Sandbox with allow_pickle=True to trust the worker with pickle)"
                )
            return self.result("exception", SerializationError(why), traceback=text, cpu=cpu, peak=peak)
        if kind == "output":
            return self.result(
                "output",
                SandboxLimitError(message or "", "output", self.limits.max_output, self.limits.max_output + 1),
                cpu=cpu,
                peak=peak,
            )
        reason = cast(Reason, kind)  # "exception", "memory" or "depth"
        error = _payload.decode_error(payload, name, message, text, allow_pickle)
        return self.result(reason, error, traceback=text, cpu=cpu, peak=peak)


def execute(worker: Worker, payload: bytes, limits: Limits, *, alone: bool = False) -> tuple[SandboxResult, bool]:
    """Runs one encoded call on `worker` under `limits`.

    Args:
        worker: An idle worker, handed out by its pool.
        payload: The encoded call.
        limits: What to enforce.
        alone: No other call of the pool is running: the host may spin for a quick
            result (concurrent calls would take CPU from each other's workers).

    Returns:
        The result, and whether the worker must be retired (it was killed, died, hit a
        MemoryError, or left child processes running).
    """
    call = Call(worker, limits, alone)
    worker.retire = False
    result = call.send(payload) or call.wait()
    worker.tasks += 1
    worker.last_duration = result.duration
    return result, worker.retire or worker.killed or worker.exited.is_set()

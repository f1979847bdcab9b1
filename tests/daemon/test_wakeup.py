"""The daemon's wake-up: set from signal handlers and threads without taking a lock."""

from __future__ import annotations

import gc
import os
import signal
import threading

from zixir.daemon.signals import Signals, Wakeup


def test_a_set_from_another_thread_wakes_the_waiter_and_clear_forgets_it() -> None:
    wake = Wakeup()
    assert wake.wait(0) is False
    threading.Thread(target=wake.set).start()
    assert wake.wait(10.0) is True
    wake.clear()
    assert wake.wait(0) is False


def test_a_signal_handler_wakes_a_main_thread_that_is_waiting() -> None:
    wake = Wakeup()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: wake.set())
    try:
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        assert wake.wait(10.0) is True  # the handler ran in this thread, inside the wait
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_many_sets_never_block_and_many_wakeups_leave_no_descriptors_open() -> None:
    wake = Wakeup()
    for _ in range(100_000):  # far past a pipe's capacity
        wake.set()
    wake.clear()
    assert wake.wait(0) is False
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(500):
        Wakeup().set()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_signal_delivered_to_another_thread_still_wakes_the_main_thread() -> None:
    signals = Signals()
    signals.install()
    try:
        # The kernel may hand a process signal to any thread; this one goes to a worker, a
        # moment later, so that the main thread is asleep in the wait when it arrives.
        threading.Timer(0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGHUP)).start()
        assert signals.wake.wait(10.0) is True  # without the wakeup fd: asleep until the timeout
        assert signals.reopen_logs is True
    finally:
        signals.restore()

"""The threads of one run: a ready queue taken by up to `max_workers` workers, a heap of
tasks waiting for their retry (a wait holds no thread), and how the run stops.

A worker runs a task (`process`) and goes on with the task that returns, if any, so a
thread that finishes a step runs the step it made ready: a chain runs on one thread
without hand-offs. Idle workers are woken, or new ones started, only for tasks left over.
Before a worker waits for work it commits the outcomes left for a shared commit (`commit`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections import deque

from zixir.workflow.outcomes import StepOutcome
from zixir.workflow.tasks import Task

__all__ = ["Pool"]


class Pool(ABC):
    """Worker threads for one run's tasks (see the module docstring).

    Args:
        workflow: The workflow's name (names the threads).
        max_workers: At most this many worker threads.
    """

    def __init__(self, workflow: str, max_workers: int) -> None:
        self.workflow = workflow
        self.max_workers = max_workers
        self.cond = threading.Condition()
        self.ready: deque[Task] = deque()
        self.delayed: list[tuple[float, int, Task]] = []
        self.sequence = itertools.count()
        self.running = 0  # tasks taken and not yet committed
        self.threads: list[threading.Thread] = []
        self.idle = 0
        self.stopping: str | None = None  # "draining", "cancelled", "failed", "abandoned" or "stale"
        self.error: str | None = None
        self.finished = threading.Event()
        self.pending: list[StepOutcome] = []  # finished, waiting for a commit (with `cond` held)
        self.live: set[threading.Event] = set()  # the running attempts' cancelled events
        self.halt = threading.Event()  # set with them: the run's Ray tasks are cancelled

    @abstractmethod
    def process(self, task: Task) -> Task | None:
        """Runs `task`; returns the task this thread runs next, if any."""

    @abstractmethod
    def commit(self, outcomes: list[StepOutcome], keep: bool = True) -> Task | None:
        """Commits `outcomes` with those pending; returns a task they made ready for this
        thread (none unless `keep`)."""

    def request_cancel(self) -> None:
        """No new step starts; running ones see ``ctx.cancelled``."""
        with self.cond:
            self._stop("cancelled", None)

    def drain(self) -> None:
        """Its host is stopping: no new step starts, running steps finish and commit; the
        run stays "running" for the next owner (the host's restart) to resume."""
        with self.cond:
            self._stop("draining", None)

    def abandon(self, why: str) -> None:
        """Its host gave the run up (as if its process died): no new step starts, running
        steps see ``ctx.cancelled``, the run stays "running" for another owner to take over."""
        with self.cond:
            self._stop("abandoned", why)

    def _stop(self, why: str, error: str | None) -> None:
        # with cond held; "stale" outranks the others, a failure outranks a cancel
        rank = {None: 0, "draining": 1, "cancelled": 2, "failed": 3, "abandoned": 4, "stale": 5}
        if rank[why] > rank[self.stopping]:
            self.stopping = why
            if error is not None and (self.error is None or why in ("stale", "abandoned")):
                self.error = error
        if why not in ("failed", "draining"):  # a drain lets running steps finish
            self.halt.set()
            for event in self.live:
                event.set()
        self.delayed.clear()
        self.cond.notify_all()
        self.check_over()

    def check_over(self) -> None:
        """With `cond` held: ends the run's execution once nothing runs and nothing is left to."""
        if self.running == 0 and (self.stopping is not None or (not self.ready and not self.delayed)):
            self.ready.clear()
            self.finished.set()
            self.cond.notify_all()

    def spawn(self, task: Task | None) -> None:
        thread = threading.Thread(
            target=self._worker, args=(task,), name=f"zixir-wf-{self.workflow}-{len(self.threads)}", daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def _worker(self, task: Task | None) -> None:
        while True:
            if task is None:
                task = self._take()
                if task is None:
                    return
            task = self.process(task)

    def _take(self) -> Task | None:
        while True:
            with self.cond:
                while True:
                    if self.finished.is_set():
                        return None
                    if self.stopping is None:
                        if self.ready:
                            self.running += 1
                            return self.ready.popleft()
                        if self.delayed and self.delayed[0][0] <= time.monotonic():
                            self.running += 1
                            return heapq.heappop(self.delayed)[2]
                    if self.pending:
                        break  # outcomes left for a shared commit: this thread makes it before it waits
                    wait = max(0.0, self.delayed[0][0] - time.monotonic()) if self.delayed else None
                    self.idle += 1
                    self.cond.wait(wait)
                    self.idle -= 1
            task = self.commit([])
            if task is not None:
                return task

    def enqueue(self, tasks: list[Task], after: Task | None = None) -> None:
        """With `cond` held: more ready work, for idle threads or new ones up to `max_workers`.

        Ray steps' tasks need one thread between them, which submits each and takes the
        next: none when the calling thread runs a Ray step's task (`after`) next, since it
        is back for more at once (fewer threads submitting: less contention)."""
        self.ready.extend(tasks)
        local = sum(task.planned.spec.executor != "ray" for task in tasks)
        on_ray = after is not None and after.planned.spec.executor == "ray"
        wanted = local + (local < len(tasks) and not on_ray)
        self.cond.notify(wanted)
        spare = wanted - self.idle
        while spare > 0 and len(self.threads) < self.max_workers:
            self.spawn(None)
            spare -= 1

    def retry_later(self, task: Task, wait: float) -> None:
        """Parks a task whose attempt failed until its retry is due; its thread moves on."""
        with self.cond:
            self.running -= 1
            if self.stopping is None:
                heapq.heappush(self.delayed, (time.monotonic() + wait, next(self.sequence), task))
                self.cond.notify()
            self.check_over()

    def drop_task(self) -> None:
        """A taken task ends with nothing to commit (its run stopped while a Ray task ran it:
        see `halt`)."""
        with self.cond:
            self.running -= 1
            self.check_over()

    def attempt_event(self) -> threading.Event:
        """A running attempt's ``ctx.cancelled``: set at once if the run is being cancelled."""
        event = threading.Event()
        with self.cond:
            if self.stopping in ("cancelled", "stale", "abandoned"):
                event.set()
            self.live.add(event)
        return event

    def attempt_over(self, event: threading.Event) -> None:
        with self.cond:
            self.live.discard(event)

"""The names of Zixir's log events, and the fields each carries, in one place.

Every record Zixir writes is bound (loguru's ``bind``) to an ``event`` name from here and
to that event's fields; the JSON log lines put them at the top level. Fields never hold
the arguments, messages or results of calls (they may be secrets): types and names only.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "ACTOR_CALL_FAILED",
    "ACTOR_CRASHED",
    "ACTOR_EXITED",
    "ACTOR_EXIT_HOOK_FAILED",
    "ACTOR_INTERRUPTED",
    "ACTOR_LATE_START_STOPPED",
    "ACTOR_REPORT_UNDELIVERED",
    "ACTOR_STARTING",
    "ACTOR_START_ABANDONED",
    "ACTOR_STOPPED",
    "ACTOR_UNEXPECTED_MESSAGE",
    "ANALYTICS_DRIFT",
    "BREAKER_EXCLUDE_FAILED",
    "BREAKER_LISTENER_FAILED",
    "BREAKER_TRANSITION",
    "CACHE_EMPTY_FILE",
    "CACHE_MAP_GROWN",
    "CACHE_META_UNKNOWN",
    "CACHE_WARMED",
    "DAEMON_DRAINING",
    "DAEMON_GAVE_UP",
    "DAEMON_READY",
    "DAEMON_STOPPED",
    "DAEMON_STOPPING",
    "ENGINE_PURE_PYTHON",
    "EVENTS",
    "RAY_CHILD_DIED",
    "RAY_CHILD_STOP_TIMED_OUT",
    "RAY_CONNECTED",
    "RAY_DISCONNECTED",
    "RAY_STEP_CANCELLED",
    "RETRY_ATTEMPT_FAILED",
    "RETRY_GAVE_UP",
    "RETRY_RECOVERED",
    "SANDBOX_WORKER_KILLED",
    "SANDBOX_WORKER_RECYCLED",
    "SUPERVISOR_CHILD_ABANDONED",
    "SUPERVISOR_CHILD_EXITED",
    "SUPERVISOR_CHILD_RESTARTED",
    "SUPERVISOR_GAVE_UP",
    "SUPERVISOR_HEALTH_CHECK_MISSED",
    "SUPERVISOR_STARTED",
    "TIMER_UNDELIVERED",
    "WORKFLOW_COMMIT_STALE",
    "WORKFLOW_RUNS_ABANDONED",
    "WORKFLOW_RUN_CANCELLED",
    "WORKFLOW_RUN_FAILED",
    "WORKFLOW_RUN_NOT_RESUMED",
    "WORKFLOW_RUN_RESUMED",
    "WORKFLOW_RUN_STARTED",
    "WORKFLOW_RUN_SUCCEEDED",
    "WORKFLOW_STEP_ABANDONED",
    "WORKFLOW_STEP_FAILED",
    "WORKFLOW_STEP_FAILED_CONTINUED",
    "WORKFLOW_STEP_RETRYING",
    "WORKFLOW_STEP_SKIPPED",
    "WORKFLOW_STEP_STARTED",
    "WORKFLOW_STEP_SUCCEEDED",
    "WORKFLOW_TICKS_DROPPED",
    "WORKFLOW_TICK_NOT_STARTED",
    "Event",
]


class Event(NamedTuple):
    """One event: its level and the fields its records carry besides the common ones."""

    level: str
    fields: tuple[str, ...]
    meaning: str


ACTOR_CRASHED: Final = "actor.crashed"
ACTOR_UNEXPECTED_MESSAGE: Final = "actor.unexpected_message"
ACTOR_EXIT_HOOK_FAILED: Final = "actor.on_exit_failed"
ACTOR_STARTING: Final = "actor.starting"
ACTOR_STOPPED: Final = "actor.stopped"
ACTOR_CALL_FAILED: Final = "actor.call_failed"
ACTOR_INTERRUPTED: Final = "actor.interrupted"
ACTOR_EXITED: Final = "actor.exited"
ACTOR_START_ABANDONED: Final = "actor.start_abandoned"
ACTOR_LATE_START_STOPPED: Final = "actor.late_start_stopped"
ACTOR_REPORT_UNDELIVERED: Final = "actor.report_undelivered"
TIMER_UNDELIVERED: Final = "timer.undelivered"
SUPERVISOR_CHILD_RESTARTED: Final = "supervisor.child_restarted"
SUPERVISOR_GAVE_UP: Final = "supervisor.gave_up"
SUPERVISOR_CHILD_ABANDONED: Final = "supervisor.child_abandoned"
SUPERVISOR_HEALTH_CHECK_MISSED: Final = "supervisor.health_check_missed"
SUPERVISOR_STARTED: Final = "supervisor.started"
SUPERVISOR_CHILD_EXITED: Final = "supervisor.child_exited"
BREAKER_TRANSITION: Final = "breaker.transition"
BREAKER_EXCLUDE_FAILED: Final = "breaker.exclude_failed"
BREAKER_LISTENER_FAILED: Final = "breaker.listener_failed"
RETRY_ATTEMPT_FAILED: Final = "retry.attempt_failed"
RETRY_RECOVERED: Final = "retry.recovered"
RETRY_GAVE_UP: Final = "retry.gave_up"
SANDBOX_WORKER_KILLED: Final = "sandbox.worker_killed"
SANDBOX_WORKER_RECYCLED: Final = "sandbox.worker_recycled"
CACHE_MAP_GROWN: Final = "cache.map_grown"
CACHE_WARMED: Final = "cache.warmed"
CACHE_EMPTY_FILE: Final = "cache.empty_file"
CACHE_META_UNKNOWN: Final = "cache.meta_unknown"
ENGINE_PURE_PYTHON: Final = "engine.pure_python"
ANALYTICS_DRIFT: Final = "analytics.drift"
WORKFLOW_RUN_STARTED: Final = "workflow.run_started"
WORKFLOW_RUN_SUCCEEDED: Final = "workflow.run_succeeded"
WORKFLOW_RUN_FAILED: Final = "workflow.run_failed"
WORKFLOW_RUN_CANCELLED: Final = "workflow.run_cancelled"
WORKFLOW_STEP_STARTED: Final = "workflow.step_started"
WORKFLOW_STEP_SUCCEEDED: Final = "workflow.step_succeeded"
WORKFLOW_STEP_RETRYING: Final = "workflow.step_retrying"
WORKFLOW_STEP_FAILED: Final = "workflow.step_failed"
WORKFLOW_STEP_FAILED_CONTINUED: Final = "workflow.step_failed_continued"
WORKFLOW_STEP_SKIPPED: Final = "workflow.step_skipped"
WORKFLOW_STEP_ABANDONED: Final = "workflow.step_abandoned"
WORKFLOW_COMMIT_STALE: Final = "workflow.commit_stale"
WORKFLOW_TICKS_DROPPED: Final = "workflow.ticks_dropped"
WORKFLOW_TICK_NOT_STARTED: Final = "workflow.tick_not_started"
WORKFLOW_RUN_RESUMED: Final = "workflow.run_resumed"
WORKFLOW_RUN_NOT_RESUMED: Final = "workflow.run_not_resumed"
WORKFLOW_RUNS_ABANDONED: Final = "workflow.runs_abandoned"
DAEMON_READY: Final = "daemon.ready"
DAEMON_GAVE_UP: Final = "daemon.gave_up"
DAEMON_STOPPING: Final = "daemon.stopping"
DAEMON_DRAINING: Final = "daemon.draining"
DAEMON_STOPPED: Final = "daemon.stopped"
RAY_CONNECTED: Final = "ray.connected"
RAY_DISCONNECTED: Final = "ray.disconnected"
RAY_CHILD_DIED: Final = "ray.child_died"
RAY_CHILD_STOP_TIMED_OUT: Final = "ray.child_stop_timed_out"
RAY_STEP_CANCELLED: Final = "ray.step_cancelled"

#: Every event: its level, its own fields, and what it means (docs/observability.md's table).
EVENTS: Final[dict[str, Event]] = {
    ACTOR_CRASHED: Event(
        "ERROR",
        ("actor_class", "error_type"),
        "an actor crashed: on_start, a told message or on_stop raised; `exception` holds the traceback",
    ),
    ACTOR_CALL_FAILED: Event(
        "INFO",
        ("actor_class", "error_type"),
        "an asked call raised; the error went back to the caller (`exception` holds the traceback)",
    ),
    ACTOR_INTERRUPTED: Event(
        "DEBUG", ("actor_class", "error_type"), "a BaseException (not an Exception) stopped this actor only"
    ),
    ACTOR_STOPPED: Event("DEBUG", ("actor_class",), "an actor stopped; on_stop runs next"),
    ACTOR_UNEXPECTED_MESSAGE: Event(
        "WARNING", ("actor_class", "message_type"), "a plain message reached the default on_receive"
    ),
    ACTOR_EXIT_HOOK_FAILED: Event("WARNING", ("actor_class", "error_type"), "an actor's on_exit raised"),
    ACTOR_STARTING: Event("DEBUG", ("actor_class",), "an actor's thread is starting"),
    ACTOR_EXITED: Event("DEBUG", ("actor_class", "reason", "error_type"), "an actor exited (`reason`: its kind)"),
    ACTOR_START_ABANDONED: Event(
        "WARNING", ("child",), "a child started by ensure_started did not leave on_start in time"
    ),
    ACTOR_LATE_START_STOPPED: Event(
        "WARNING", ("actor_class",), "an abandoned start's on_start returned at last; the actor is stopped"
    ),
    ACTOR_REPORT_UNDELIVERED: Event(
        "DEBUG", ("message_type",), "an exit report could not be told: its recipient has stopped"
    ),
    TIMER_UNDELIVERED: Event("WARNING", ("message_type", "error_type"), "a timer's message could not be told"),
    SUPERVISOR_CHILD_RESTARTED: Event(
        "WARNING",
        ("supervisor", "child", "restarts", "reason", "error_type", "delay"),
        "a supervisor restarts a child, `delay` s from now (`reason`: the exit's kind; `restarts`: this child's, "
        "this one included)",
    ),
    SUPERVISOR_GAVE_UP: Event(
        "ERROR",
        ("supervisor", "child", "max_restarts", "max_seconds", "error_type"),
        "a supervisor exceeded its restart intensity and stops (`child`: the last to fail)",
    ),
    SUPERVISOR_CHILD_ABANDONED: Event(
        "WARNING", ("supervisor", "child", "why"), "a child did not stop in time, or hung: it is forgotten"
    ),
    SUPERVISOR_HEALTH_CHECK_MISSED: Event(
        "WARNING", ("supervisor", "child", "timeout"), "a child did not answer a health check in `timeout` s"
    ),
    SUPERVISOR_STARTED: Event("DEBUG", ("supervisor", "children"), "a supervisor started its children"),
    SUPERVISOR_CHILD_EXITED: Event(
        "DEBUG", ("supervisor", "child", "reason", "error_type"), "a supervisor saw a child exit"
    ),
    BREAKER_TRANSITION: Event(
        "WARNING", ("breaker", "old_state", "state"), "a circuit breaker changed state (WARNING to open, else INFO)"
    ),
    BREAKER_EXCLUDE_FAILED: Event(
        "ERROR", ("breaker",), "a breaker's exclude predicate raised; the error counts as a failure"
    ),
    BREAKER_LISTENER_FAILED: Event("ERROR", ("breaker", "old_state", "state"), "a breaker's listener raised; ignored"),
    RETRY_ATTEMPT_FAILED: Event(
        "INFO", ("target", "attempt", "error_type", "wait"), "an attempt failed; the next one follows in `wait` s"
    ),
    RETRY_RECOVERED: Event("INFO", ("target", "attempt"), "a call succeeded after failed attempts"),
    RETRY_GAVE_UP: Event(
        "WARNING",
        ("target", "attempts", "elapsed", "cause", "error_type"),
        "a retry policy gave up (`cause`: the limit reached)",
    ),
    SANDBOX_WORKER_KILLED: Event(
        "WARNING",
        ("reason", "pid"),
        "a sandbox worker was killed or died in a call (`reason`: timeout, cpu, memory, output, depth, crashed)",
    ),
    SANDBOX_WORKER_RECYCLED: Event(
        "DEBUG",
        ("cause", "pid"),
        "a sandbox worker was replaced (`cause`: max_tasks, high_water, not_ready, exited, or the reason of "
        "a call that left it suspect)",
    ),
    CACHE_MAP_GROWN: Event("INFO", ("path", "map_size_mib"), "a cache's LMDB map doubled"),
    CACHE_WARMED: Event("INFO", ("path", "loaded", "failed", "seconds"), "a cache warm-up finished"),
    CACHE_EMPTY_FILE: Event("WARNING", ("path",), "a cache file of 0 bytes opens as an empty cache"),
    CACHE_META_UNKNOWN: Event("DEBUG", ("path",), "LMDB's meta page layout is unknown; readers use read transactions"),
    ENGINE_PURE_PYTHON: Event("DEBUG", ("module",), "a compiled module is not built; its pure-Python twin runs"),
    ANALYTICS_DRIFT: Event(
        "WARNING",
        ("monitor", "method", "value", "threshold"),
        "a drift monitor's window drifted from its baseline (`value` in the method's units)",
    ),
    WORKFLOW_RUN_STARTED: Event(
        "INFO", ("workflow", "run_id", "how", "generation"), "a run started (`how`: fresh or resume)"
    ),
    WORKFLOW_RUN_SUCCEEDED: Event("INFO", ("workflow", "run_id", "status"), "a run succeeded"),
    WORKFLOW_RUN_FAILED: Event(
        "WARNING", ("workflow", "run_id", "status"), "a run failed (the message says why; its result holds the error)"
    ),
    WORKFLOW_RUN_CANCELLED: Event("WARNING", ("workflow", "run_id", "status"), "a run stopped at a cancel request"),
    WORKFLOW_STEP_STARTED: Event(
        "DEBUG", ("workflow", "run_id", "step", "item", "attempt"), "a step's attempt started (`item`: fan-out only)"
    ),
    WORKFLOW_STEP_SUCCEEDED: Event(
        "INFO",
        ("workflow", "run_id", "step", "item", "attempt", "duration", "cached"),
        "a step (or fan-out item) succeeded; `cached`: its output came from an earlier run's cache entry",
    ),
    WORKFLOW_STEP_RETRYING: Event(
        "INFO",
        ("workflow", "run_id", "step", "item", "attempt", "error_type", "wait"),
        "a step's attempt failed; the next one is due in `wait` s (no worker waits for it)",
    ),
    WORKFLOW_STEP_FAILED: Event(
        "WARNING",
        ("workflow", "run_id", "step", "item", "attempts", "error_type"),
        "a step failed for good and fails its run; a dead letter is written",
    ),
    WORKFLOW_STEP_FAILED_CONTINUED: Event(
        "WARNING",
        ("workflow", "run_id", "step", "item", "attempts", "error_type"),
        'a step with on_error="continue" failed for good; its fallback is its output, a dead letter is written',
    ),
    WORKFLOW_STEP_SKIPPED: Event(
        "INFO", ("workflow", "run_id", "step", "why"), "a step was skipped (its condition, or a skipped dependency)"
    ),
    WORKFLOW_STEP_ABANDONED: Event(
        "WARNING",
        ("workflow", "step", "timeout"),
        "a thread step passed its timeout: its thread is abandoned, its late result discarded",
    ),
    WORKFLOW_COMMIT_STALE: Event(
        "WARNING",
        ("workflow", "run_id", "count"),
        "commits of steps discarded: the run has a newer owner (this one's process was taken for dead)",
    ),
    WORKFLOW_TICKS_DROPPED: Event(
        "WARNING",
        ("workflow", "schedule", "reason", "count", "first", "last"),
        "schedule ticks that will not run (`reason`: missed, overlap or queue_full; `count` null: over 1,000)",
    ),
    WORKFLOW_TICK_NOT_STARTED: Event(
        "WARNING",
        ("workflow", "schedule", "run_id", "error_type"),
        "a tick's run could not start (bad inputs, or another process runs it); the schedule goes on",
    ),
    WORKFLOW_RUN_RESUMED: Event(
        "INFO",
        ("workflow", "run_id", "generation"),
        "a WorkflowActor resumed a run left unfinished by a dead or exited owner",
    ),
    WORKFLOW_RUN_NOT_RESUMED: Event(
        "WARNING",
        ("workflow", "run_id", "error_type"),
        "a run left unfinished could not be resumed (its steps or "
        "edges changed since: RunMismatchError); resume it by hand or rerun it",
    ),
    WORKFLOW_RUNS_ABANDONED: Event(
        "WARNING",
        ("actor_class", "reason", "runs"),
        "a WorkflowActor exited with runs in flight; its restart (or the next host) resumes them",
    ),
    DAEMON_READY: Event("INFO", ("pid", "data_dir"), "`zixir run` started its tree and wrote daemon.json"),
    DAEMON_GAVE_UP: Event("ERROR", ("reason",), "the root supervisor exited abnormally: `zixir run` exits 3"),
    DAEMON_STOPPING: Event("INFO", ("signal",), "`zixir run` got SIGTERM or SIGINT and stops the tree"),
    DAEMON_DRAINING: Event(
        "INFO", ("runs", "timeout"), "workflow runs in flight finish their running steps, for up to `timeout` s"
    ),
    DAEMON_STOPPED: Event("INFO", (), "the tree stopped in order; `zixir run` exits 0"),
    RAY_CONNECTED: Event("INFO", ("address", "local"), "connected to a Ray cluster (`local`: started by this process)"),
    RAY_DISCONNECTED: Event("INFO", ("address",), "disconnected from the Ray cluster"),
    RAY_CHILD_DIED: Event(
        "ERROR",
        ("child", "actor_class", "cause", "error_type"),
        "a child placed on Ray died (`cause`: exception, killed, worker_died, node_died, out_of_memory or "
        "unresponsive); its supervisor treats it as a crash",
    ),
    RAY_CHILD_STOP_TIMED_OUT: Event(
        "WARNING",
        ("child", "actor_class", "timeout"),
        "a child placed on Ray did not run on_stop within its shutdown timeout; its Ray actor was killed",
    ),
    RAY_STEP_CANCELLED: Event(
        "WARNING", ("workflow", "step", "timeout"), "a Ray step passed its timeout; its task was force-cancelled"
    ),
}

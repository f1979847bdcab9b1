"""The demo's supervision tree: a cache, then a pipeline of a scoring worker, a token
sink and an agent.

::

    demo-root        rest_for_one: a cache restart restarts the pipeline that reads it
    ├── demo-cache       CacheActor (features, and scores with a TTL)
    └── demo-pipeline    one_for_one: a worker's crash restarts that worker only
        ├── demo-scorer  dot products of weights and features, cached
        ├── demo-sink    where the model's tokens go
        └── demo-agent   per turn: score, a sandboxed tool call, a flaky API, a token stream
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from zixir import engine
from zixir.actors import Actor, ChildSpec, RestartBackoff, Supervisor, handle
from zixir.cache import CacheActor
from zixir.demo.counts import Counts
from zixir.demo.faults import FaultPlan, InjectedFaultError
from zixir.demo.tools import FlakyApi, fake_model, lookup_tool
from zixir.errors import CircuitOpenError, RetryError
from zixir.resilience import CircuitBreaker, RetryPolicy
from zixir.sandbox import Sandbox
from zixir.stream import Stream, run_async

__all__ = ["WEIGHTS", "Agent", "Scorer", "TokenSink", "start_tree"]

#: The scoring model: one weight per feature (`zixir.demo.features.FEATURES`).
WEIGHTS = (0.4, -0.2, 0.05, 0.1, 0.0001, 0.3)

#: How long a cached score stays fresh.
SCORE_TTL = 2.0
#: Sandbox limits of a tool call.
TOOL_TIMEOUT = 0.5
TOOL_MEMORY = "64MB"


class Scorer(Actor):
    """Scores a user: the dot product of the weights and the user's features, cached with a TTL."""

    def __init__(self, weights: tuple[float, ...] = WEIGHTS, ttl: float = SCORE_TTL) -> None:
        super().__init__()
        self.weights = list(weights)
        self.ttl = ttl

    def score(self, user: str) -> tuple[float, bool]:
        """The user's score, and whether it came from the cache.

        Raises:
            KeyError: the feature workflow computed no features for `user`.
        """
        cache = handle("demo-cache").proxy()
        cached = cache.get(f"score:{user}").get()
        if cached is not None:
            return cached, True
        features = cache.get(f"features:{user}").get()
        if features is None:
            raise KeyError(f"no features for {user!r}: run the feature workflow first")
        value = engine.dot_product(self.weights, features)
        cache.put(f"score:{user}", value, ttl=self.ttl).get()
        return value, False

    def crash(self) -> None:
        """Crashes this worker (sent with tell, so its supervisor restarts it)."""
        raise InjectedFaultError("injected crash in demo-scorer")


class TokenSink(Actor):
    """Receives a model's tokens; keeps the count and the latest answer (bounded)."""

    def __init__(self, keep: int = 64) -> None:
        super().__init__()
        self.tokens = 0
        self.latest: deque[str] = deque(maxlen=keep)

    def write(self, token: str) -> int:
        """Takes one token; returns the tokens received so far."""
        self.tokens += 1
        self.latest.append(token)
        return self.tokens

    def stats(self) -> tuple[int, str]:
        """Tokens received, and the latest ones joined."""
        return self.tokens, " ".join(self.latest)


class Agent(Actor):
    """One agent turn at a time: score the user, call a tool in a sandbox, call a flaky API
    through a circuit breaker with retries, and stream a fake model's answer to the sink."""

    def __init__(self, plan: FaultPlan, counts: Counts) -> None:
        super().__init__()
        self.plan = plan
        self.counts = counts

    def on_start(self) -> None:
        self.sandbox = Sandbox(timeout=TOOL_TIMEOUT, memory=TOOL_MEMORY)
        self.api = FlakyApi(self.plan)
        self.breaker = CircuitBreaker(failure_threshold=3, reset_timeout=0.5, name="demo-api")
        self.breaker.add_listener(self._transition)
        self.retry = RetryPolicy(
            max_attempts=3,
            initial_delay=0.02,
            multiplier=2.0,
            max_delay=0.1,
            jitter=0.0,
            retry_on=(ConnectionError,),  # an open breaker fails fast: no retry
            on_attempt=self._attempt,
        )

    def on_exit(self, reason: Any) -> None:
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.close()

    def _transition(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        self.counts.add(f"breaker_{new}")

    def _attempt(self, number: int) -> None:
        self.counts.add("api_attempts")
        if number > 1:
            self.counts.add("api_retries")

    def turn(self, number: int) -> dict[str, Any]:
        """Runs agent turn `number`; returns what each part gave."""
        user = self.plan.user_for(number * 7 + 3)
        score, _ = handle("demo-scorer").call("score", user, timeout=10.0)
        fault = self.plan.tool_fault(number)
        result = self.sandbox.run(lookup_tool, fault, user)
        self.counts.add(f"tool_{result.reason or 'ok'}")
        try:
            self.retry.call(self.breaker.call, self.api.enrich, user)
            self.counts.add("api_ok")
            api = "ok"
        except CircuitOpenError:
            self.counts.add("api_rejected")
            api = "rejected (breaker open)"
        except RetryError:
            self.counts.add("api_failed")
            api = "failed after retries"
        stream = Stream(fake_model(f"{user}:{number}", self.plan.seed)).map(str.strip, name="detokenize")
        tokens = run_async(stream.ato_actor(handle("demo-sink").ref, "write", in_flight=8))
        self.counts.add("tokens", tokens)
        self.counts.add("turns")
        return {"user": user, "score": score, "tool": result.reason or "ok", "api": api, "tokens": tokens}


def start_tree(cache_path: Path, plan: FaultPlan, counts: Counts) -> Any:
    """Starts the demo's tree (see the module's docstring); returns the root's ref.

    The agent adds its outcomes to `counts`: ``tool_<ok|timeout|memory|...>``, ``api_ok``,
    ``api_failed``, ``api_rejected``, ``api_attempts``, ``api_retries``,
    ``breaker_<state>`` (transitions into it), ``tokens`` and ``turns``.
    """
    pipeline = [
        ChildSpec("demo-scorer", Scorer),
        ChildSpec("demo-sink", TokenSink),
        ChildSpec("demo-agent", Agent, kwargs={"plan": plan, "counts": counts}, start_timeout=30.0),
    ]
    return Supervisor.start(
        children=[
            ChildSpec("demo-cache", CacheActor, kwargs={"path": cache_path, "sweep_interval": 1.0}),
            ChildSpec(
                "demo-pipeline",
                Supervisor,
                kwargs={
                    "children": pipeline,
                    "strategy": "one_for_one",
                    "max_restarts": 10,
                    "max_seconds": 10.0,
                    # A crashed worker waits a little before it comes back: requests queue meanwhile.
                    "backoff": RestartBackoff(initial_delay=0.3, max_delay=1.0, reset_after=2.0),
                },
            ),
        ],
        strategy="rest_for_one",
        max_restarts=3,
        max_seconds=30.0,
    )

"""What the demo's agent calls: a tool that runs in a sandbox (and sometimes hangs or
blows its memory limit), a flaky remote API, and a fake language model that streams tokens.

The tool functions run in sandbox worker processes, so they live at module level.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator

from zixir import tracing
from zixir.demo.faults import FaultPlan

__all__ = ["FlakyApi", "fake_model", "lookup_tool"]

_ANSWER = (
    "the user's recent orders look consistent with the score ; recommending the standard plan "
    "with a follow-up in two weeks because the trend is stable and the volume is within range"
)
_WORDS = tuple(_ANSWER.split())


def lookup_tool(fault: str, user: str) -> dict[str, object]:
    """A "tool call" for `user`: answers, or with `fault` hangs or grows without bound.

    Runs in a sandbox worker; its span travels back to the caller's trace.
    """
    with tracing.span("tool.lookup", user=user, fault=fault):
        if fault == "hang":
            threading.Event().wait()  # the sandbox's timeout kills the worker
        if fault == "memory":
            hog = []
            while True:  # the sandbox's memory limit kills the worker
                hog.append(bytearray(8 * 1024 * 1024))
        return {"user": user, "orders": len(user) * 3, "region": "eu-west"}


class FlakyApi:
    """A fake remote API that fails the calls its fault plan says (an outage), thread-safe."""

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._lock = threading.Lock()
        self.calls = 0

    def enrich(self, user: str) -> dict[str, object]:
        """Answers for `user`, or raises ConnectionError during an outage."""
        with self._lock:
            call, self.calls = self.calls, self.calls + 1
        with tracing.span("api.enrich", user=user, call=call):
            if self._plan.api_fails(call):
                raise ConnectionError(f"enrichment API unavailable (call {call})")
            return {"user": user, "segment": "returning"}


async def fake_model(prompt: str, seed: int, tokens: int = 24) -> AsyncIterator[str]:
    """Streams `tokens` words, as a language model's API would, seeded by `prompt` and `seed`."""
    rng = random.Random(f"{seed}:{prompt}")
    for _ in range(tokens):
        await asyncio.sleep(0.001)  # the network between tokens
        yield rng.choice(_WORDS) + " "

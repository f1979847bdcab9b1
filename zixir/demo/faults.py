"""The demo's fault schedule: what goes wrong, and when, the same on every run.

Faults are placed by count (the n-th request, tool call or API call), never by a random
draw at run time, so every run tells the same story and every count in the summary is
above zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["FaultPlan", "InjectedFaultError", "ToolFault"]

#: What a tool call is made to do: answer, hang past its timeout, or blow its memory limit.
ToolFault = str


class InjectedFaultError(RuntimeError):
    """A crash the demo injects on purpose (a supervisor restarts the actor it kills)."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The seeded plan of a demo run.

    Attributes:
        seed: Seeds the generated events, users and model tokens.
        request_rate: Scoring requests offered per second.
        users: How many users requests are spread over (skewed: some come back often).
        crash_first: The request before which the scoring worker first crashes.
        crash_every: Requests between two injected crashes.
        tool_cycle: What successive tool calls do, repeated: "ok", "hang" or "memory".
        api_outage: The flaky API's failing calls in each `api_cycle` calls (numbered from 0).
        api_cycle: Calls after which the API's outage repeats (for long runs).
        turn_interval: Seconds between two agent turns.
        workflow_kill_step: The workflow step running when its process is killed.
    """

    seed: int = 15
    request_rate: float = 40.0
    users: int = 40
    crash_first: int = 40
    crash_every: int = 160
    tool_cycle: tuple[ToolFault, ...] = ("ok", "hang", "ok", "memory", "ok", "ok")
    api_outage: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    api_cycle: int = 60
    turn_interval: float = 0.25
    workflow_kill_step: str = "window_2"

    def crashes_before(self, request: int) -> bool:
        """Whether the scoring worker is crashed just before request number `request`."""
        return request >= self.crash_first and (request - self.crash_first) % self.crash_every == 0

    def tool_fault(self, call: int) -> ToolFault:
        """What tool call number `call` does."""
        return self.tool_cycle[call % len(self.tool_cycle)]

    def api_fails(self, call: int) -> bool:
        """Whether call number `call` to the flaky API fails."""
        return call % self.api_cycle in self.api_outage

    def user_for(self, request: int) -> str:
        """The user of request number `request`: skewed, so some users come back within the TTL."""
        rng = random.Random(self.seed * 1_000_003 + request)
        return f"user-{min(int(rng.paretovariate(0.9)) - 1, self.users - 1)}"

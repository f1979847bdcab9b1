"""Actor mailboxes: an unbounded C-level queue, and a bounded one with a system lane.

The bounded mailbox applies backpressure to user messages while stop requests, down
notices and health pings bypass the bound and are handled first.
"""

from __future__ import annotations

import collections
import threading
import time

from zixir.actors._pykka import STOP_TYPE
from zixir.actors.envelope import Envelope
from zixir.actors.messages import Down, _LinkedExit, _Ping, _Started, _StartTimedOut
from zixir.errors import MailboxFullError

__all__ = ["BoundedInbox", "is_system_message"]

_SYSTEM_TYPES = (STOP_TYPE, Down, _LinkedExit, _Ping, _Started, _StartTimedOut)


def is_system_message(message: object) -> bool:
    """True for the messages that bypass a mailbox bound and go first."""
    return isinstance(message, _SYSTEM_TYPES)


class BoundedInbox:
    """A mailbox of at most `size` user messages; system messages always fit and go first.

    Args:
        size: The bound on user messages.
        put_timeout: How long a sender waits for room before MailboxFullError.
        owner: The actor's description, for the error message.
    """

    def __init__(self, size: int, put_timeout: float, owner: str) -> None:
        self._size = size
        self._put_timeout = put_timeout
        self._owner = owner
        self._system: collections.deque[Envelope] = collections.deque()
        self._user: collections.deque[Envelope] = collections.deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def put(self, envelope: Envelope, /) -> None:
        """Queues `envelope`, waiting for room if it is a user message and the box is full.

        Raises:
            MailboxFullError: the mailbox stayed full for the whole put timeout.
        """
        with self._lock:
            if is_system_message(envelope[0]):
                self._system.append(envelope)
            else:
                deadline = time.monotonic() + self._put_timeout
                while len(self._user) >= self._size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._not_full.wait(remaining):
                        if len(self._user) < self._size:
                            break
                        raise MailboxFullError(
                            f"the mailbox of {self._owner} stayed full ({self._size} messages) "
                            f"for {self._put_timeout} s; the actor is not keeping up - slow "
                            "the sender down, or raise mailbox_size / mailbox_timeout",
                            self._owner,
                            self._size,
                        )
                self._user.append(envelope)
            self._not_empty.notify()

    def get(self) -> Envelope:
        """Takes the next envelope, system messages first; waits while the box is empty."""
        with self._lock:
            while not self._system and not self._user:
                self._not_empty.wait()
            if self._system:
                return self._system.popleft()
            envelope = self._user.popleft()
            self._not_full.notify()
            return envelope

    def empty(self) -> bool:
        """True when no message waits."""
        with self._lock:
            return not self._system and not self._user

    def qsize(self) -> int:
        """How many messages wait (system and user)."""
        with self._lock:
            return len(self._system) + len(self._user)

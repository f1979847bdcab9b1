"""The exit codes of ``zixir run``: what a service manager or a script can tell apart."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """How ``zixir run`` ended.

    A second SIGTERM or SIGINT during the shutdown forces the exit with ``128 + signal``
    (143 for SIGTERM, 130 for SIGINT), as shells report a process killed by a signal.
    """

    #: Stopped by SIGTERM or SIGINT (or the tree stopped itself) and shut down in order.
    OK = 0
    #: An unexpected error in the daemon itself (the log has the traceback).
    ERROR = 1
    #: A wrong command line or configuration file: nothing was started.
    USAGE = 2
    #: The root supervisor gave up (its restart intensity was exceeded) or crashed.
    GAVE_UP = 3
    #: Another daemon holds the data directory.
    LOCKED = 4
    #: ``build`` failed or returned something else than a tree, the tree failed to start, or
    #: the Ray cluster of ``--ray-address`` (or the ``[ray]`` table) could not be reached.
    START_FAILED = 5

"""Joining a Ray cluster, or starting a local one: `connect`, `connected`, `disconnect`.

One connection per process, as Ray has: `connect` again with the same address (or none)
returns the connection already made.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger

from zixir.errors import InvalidArgumentError, RayConnectionError, RayNotConnectedError
from zixir.observability import events
from zixir.ray._runtime import require_ray

__all__ = ["RayConnection", "connect", "connected", "disconnect", "require_connection"]

#: What `connect` passes to ``ray.init`` for a local cluster, unless told otherwise.
LOCAL_DEFAULTS: Mapping[str, Any] = {
    "include_dashboard": False,
    "dashboard_host": "127.0.0.1",
    "_node_ip_address": "127.0.0.1",
}

#: Seconds `connect` waits for a TCP connection to a ``host:port`` head before giving up.
REACH_TIMEOUT = 5.0

_lock = threading.Lock()
_current: RayConnection | None = None


@dataclass(frozen=True, slots=True)
class RayConnection:
    """This process's connection to a Ray cluster.

    Attributes:
        address: The cluster's GCS address (``host:port``): what other processes (and
            ``zixir run --ray-address``) join it by.
        local: True when `connect` started the cluster in this process (it stops with
            `disconnect` or when the process exits).
        namespace: The Ray namespace of this process's actors.
        requested: The address `connect` was given (None for a local cluster).
    """

    address: str
    local: bool
    namespace: str
    requested: str | None

    def resources(self) -> dict[str, float]:
        """The cluster's total resources now (``ray.cluster_resources()``)."""
        import ray

        return {str(name): float(amount) for name, amount in ray.cluster_resources().items()}


def connect(address: str | None = None, **ray_init_kwargs: Any) -> RayConnection:
    """Connects this process to a Ray cluster, starting a local one when no address is given.

    A local cluster starts with the dashboard off and no usage statistics sent (unless
    ``RAY_USAGE_STATS_ENABLED`` is set), advertising 127.0.0.1; Ray's own processes
    listen on every interface whatever address they advertise, so keep them behind a
    firewall on a shared network (see docs/scaling.md). Calling `connect` again with the
    same address (or none) returns the existing connection.

    Args:
        address: ``"host:port"`` of a cluster's head (what ``ray start --head`` prints),
            ``"auto"`` for the cluster started on this machine, or ``"ray://host:10001"``
            for Ray Client; None starts a local cluster.
        **ray_init_kwargs: Passed to ``ray.init`` (``num_cpus``, ``namespace``,
            ``runtime_env``, ``log_to_driver``...), over the local defaults.

    Returns:
        The connection.

    Raises:
        ImportError: Ray is not installed (``pip install 'zixir[ray]'``).
        InvalidArgumentError: already connected to another address; `disconnect` first.
        RayConnectionError: nothing answers at a ``host:port`` address (checked with a TCP
            connection first, so a wrong address fails in seconds rather than after
            Ray's own retries).
    """
    global _current
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise InvalidArgumentError(
            f'address must be "host:port", "auto", "ray://host:port" or None, got {address!r}', "address"
        )
    ray = require_ray("zixir.ray.connect")
    with _lock:
        if _current is not None and ray.is_initialized():
            if address is None or address in (_current.requested, _current.address):
                return _current
            raise InvalidArgumentError(
                f"this process is already connected to the Ray cluster at {_current.address}; "
                f"call zixir.ray.disconnect() before connecting to {address!r}",
                "address",
            )
        if ray.is_initialized():  # connected by the application itself: adopt it
            _current = _describe(ray, address, local=False)
            return _current
        if address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(**{**LOCAL_DEFAULTS, **ray_init_kwargs})
        else:
            _check_reachable(address.strip())
            ray.init(address=address.strip(), **ray_init_kwargs)
        _current = _describe(ray, address, local=address is None)
    logger.bind(event=events.RAY_CONNECTED, address=_current.address, local=_current.local).info(
        "Connected to the Ray cluster at {}{}", _current.address, " (started here)" if _current.local else ""
    )
    return _current


def _check_reachable(address: str) -> None:
    """Fails fast when nothing listens at a ``host:port`` address ("auto" and ray:// pass)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT).close()
    except OSError as exc:
        raise RayConnectionError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            f"`ray start --head --port {port}` on that host, or give the address `ray start` printed",
            address,
        ) from exc


def _describe(ray: Any, requested: str | None, *, local: bool) -> RayConnection:
    context = ray.get_runtime_context()
    return RayConnection(str(context.gcs_address), local, str(context.namespace), requested)


def connected() -> RayConnection | None:
    """This process's Ray connection, or None when it has none."""
    if _current is None:
        return None
    import ray

    return _current if ray.is_initialized() else None


def require_connection(feature: str) -> RayConnection:
    """This process's Ray connection, for a feature that needs one.

    Args:
        feature: What needs it, for the error message ("step 'score' (executor='ray')").

    Raises:
        ImportError: Ray is not installed (``pip install 'zixir[ray]'``).
        RayNotConnectedError: this process is not connected; the message says how to connect.
    """
    require_ray(feature)
    current = connected()
    if current is None:
        raise RayNotConnectedError(
            f"{feature} runs on Ray, but this process is not connected to a Ray cluster: call "
            "zixir.ray.connect() (a local cluster) or zixir.ray.connect('host:port') (an existing one) first"
        )
    return current


def disconnect() -> None:
    """Disconnects from the cluster (stopping it if `connect` started it here); idempotent."""
    global _current
    with _lock:
        previous, _current = _current, None
        if previous is None:
            return
        import ray

        ray.shutdown()
    logger.bind(event=events.RAY_DISCONNECTED, address=previous.address).info(
        "Disconnected from the Ray cluster at {}", previous.address
    )

"""A small HTTP server for a Zixir process: ``/metrics``, ``/healthz``, ``/readyz``, ``/spans``.

Standard library only (`http.server`); it binds to loopback unless told otherwise, and
serves at most `MAX_CONCURRENT` requests at a time (the rest get 503), each bounded by
`REQUEST_TIMEOUT`, so a flood of slow clients cannot pile up threads in a daemon.
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import json
import socket
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from loguru import logger
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

import zixir.observability.metrics  # noqa: F401 - registers Zixir's collector in REGISTRY
from zixir._validate import whole
from zixir.errors import ArgumentTypeError, InvalidArgumentError
from zixir.observability.tree_health import health

if TYPE_CHECKING:
    import pykka

__all__ = ["MAX_CONCURRENT", "REQUEST_TIMEOUT", "ObservabilityServer", "serve"]

#: Requests handled at once; more get 503 at once rather than a thread each.
MAX_CONCURRENT = 8
#: Seconds a client has to send its request (and read the answer).
REQUEST_TIMEOUT = 10.0


class ObservabilityServer:
    """A running server; `close()` stops it (it is also a context manager).

    Attributes:
        host: The address it listens on.
        port: The port it listens on (the one the system chose, for ``port=0``).
        url: ``http://host:port``.
    """

    def __init__(self, host: str, port: int, root: pykka.ActorRef[Any] | None, spans: bool) -> None:
        self._server = _Server((host, port), _handler_for(root, spans))
        self.host = host
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.5}, name="zixir-http", daemon=True
        )
        self._thread.start()
        logger.info("Serving /metrics, /healthz, /readyz{} on {}", ", /spans" if spans else "", self.url)

    def close(self) -> None:
        """Stops serving and frees the port; waits for the serving thread (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> ObservabilityServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ObservabilityServer({self.url})"


def serve(
    port: int = 0, host: str = "127.0.0.1", root: pykka.ActorRef[Any] | None = None, spans: bool | None = None
) -> ObservabilityServer:
    """Serves the process's metrics and its trees' health over HTTP, on a thread.

    - ``/metrics``: every metric in prometheus_client's default registry (Zixir's and the
      process's), in the Prometheus text format, or OpenMetrics when the scraper asks.
    - ``/healthz``: 200 while `root` (or, with None, every root supervisor of the process)
      is starting or running, 503 once one gave up or stopped; the JSON body lists each
      supervisor's children with their state and restarts, through the whole tree.
    - ``/readyz``: 200 once the tree has started (with None: there is a root, and every
      root started), 503 before.
    - ``/spans?trace_id=...``: the finished spans in `zixir.tracing`'s ring as JSON
      (``{"spans": [...]}``, oldest first; all of them without ``trace_id``).

    Args:
        port: The TCP port; 0 lets the system choose (read it from ``.port``).
        host: The address to bind. Loopback by default: metrics and tree names say a lot
            about a service, so expose them deliberately.
        root: The root supervisor to report on; None for every root in the process.
        spans: Serve ``/spans``. By default only on a loopback address: span attributes
            may be private. True serves them on any address, False never.

    Returns:
        The running server: ``.port``, ``.url``, ``.close()``.

    Raises:
        InvalidArgumentError: `port` outside 0-65535.
        ArgumentTypeError: `host` is not a str.
        OSError: the address cannot be bound (in use, or not this machine's).
    """
    port = whole("port", port, at_least=0)
    if port > 65535:
        raise InvalidArgumentError(f"port must be between 0 and 65535, got {port}", "port")
    if not isinstance(host, str):
        raise ArgumentTypeError(f"host must be a str such as '127.0.0.1', got {host!r}", "host")
    if spans is not None and not isinstance(spans, bool):
        raise ArgumentTypeError(f"spans must be True, False or None, got {spans!r}", "spans")
    return ObservabilityServer(host, port, root, _is_loopback(host) if spans is None else spans)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):  # the client left already
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _handler_for(root: pykka.ActorRef[Any] | None, spans: bool) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT
        server_version = "zixir"

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            path = url.path
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, content_type, encoder(REGISTRY))
            elif path in ("/healthz", "/readyz"):
                report = health(root)
                ok = report.healthy if path == "/healthz" else report.ready
                body = json.dumps(report.as_json(), indent=2).encode()
                self._send(200 if ok else 503, "application/json", body)
            elif path == "/spans" and spans:
                trace_id = urllib.parse.parse_qs(url.query).get("trace_id", [None])[0]
                self._send(200, "application/json", json.dumps({"spans": _finished(trace_id)}).encode())
            elif path == "/spans":
                self._send(404, "text/plain; charset=utf-8", b"/spans is served on loopback only: serve(spans=True)\n")
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("HTTP {}: {}", self.client_address[0], format % args)

    return Handler


def _finished(trace_id: str | None) -> list[dict[str, Any]]:
    from zixir.tracing.export import finished_spans
    from zixir.tracing.logs import span_fields

    return [span_fields(span) for span in finished_spans(trace_id)]

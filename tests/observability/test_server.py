"""`zixir.observability.serve`: /metrics, /healthz and /readyz over real HTTP, on real trees."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.actors.support import WAIT, Probe, running
from zixir.actors import ChildSpec, Supervisor, tree
from zixir.errors import ArgumentTypeError, InvalidArgumentError, RestartIntensityError
from zixir.observability import serve
from zixir.observability import server as server_module

gate = threading.Event()
entered = threading.Event()


class Slow(Probe):
    """Blocks in on_start (after its first `free_starts` starts) until `gate` is set."""

    free_starts = 0

    def on_start(self) -> None:
        entered.set()
        if type(self).free_starts > 0:
            type(self).free_starts -= 1
        else:
            gate.wait()
        super().on_start()


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tree.forget_ended()
    gate.clear()
    entered.clear()
    Slow.free_starts = 0
    yield
    gate.set()
    tree.forget_ended()


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, 4xx and 5xx included."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def health_of(url: str, path: str = "/healthz") -> tuple[int, dict[str, Any]]:
    status, content_type, body = get(url + path)
    assert content_type == "application/json"
    return status, json.loads(body)


def test_healthz_lists_the_whole_tree_and_readyz_says_it_started() -> None:
    inner = ChildSpec("inner", Supervisor, kwargs={"children": [ChildSpec("leaf", Probe, kwargs={"name": "leaf"})]})
    root = Supervisor.start(children=[ChildSpec("top", Probe, kwargs={"name": "top"}), inner], name="app")
    with serve(root=root) as server:
        assert server.host == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}"
        status, body = health_of(server.url)
        assert status == 200 and body["status"] == "ok" and body["ready"] is True
        (app,) = body["supervisors"]
        assert (app["name"], app["phase"], app["urn"]) == ("app", "running", root.actor_urn)
        top, nested = app["children"]
        assert top == {"name": "top", "state": "running", "restarts": 0}
        assert nested["supervisor"]["children"] == [{"name": "leaf", "state": "running", "restarts": 0}]
        assert health_of(server.url, "/readyz")[0] == 200


def test_healthz_answers_while_a_restart_hangs_and_shows_the_child_restarting() -> None:
    Slow.free_starts = 1
    root = Supervisor.start(children=[ChildSpec("slow", Slow, kwargs={"name": "slow"}, start_timeout=600.0)])
    entered.clear()
    running("slow").proxy().crash.defer()
    assert entered.wait(WAIT)  # the restart is in on_start, and stays there
    with serve(root=root) as server:
        status, body = health_of(server.url)
        assert status == 200
        assert body["supervisors"][0]["children"] == [{"name": "slow", "state": "restarting", "restarts": 1}]
        gate.set()
        root.proxy().settled().get(timeout=WAIT)
        assert health_of(server.url)[1]["supervisors"][0]["children"][0]["state"] == "running"


def test_healthz_turns_503_when_the_root_gives_up_and_says_why() -> None:
    root = Supervisor.start(children=[ChildSpec("doomed", Probe, kwargs={"name": "doomed"})], max_restarts=0)
    with serve() as every_root, serve(root=root) as this_root:
        assert health_of(every_root.url)[0] == 200
        running("doomed").proxy().crash.defer()
        reason = root.wait_exit(WAIT)  # type: ignore[attr-defined]
        assert reason is not None and isinstance(reason.exception, RestartIntensityError)
        for server in (every_root, this_root):
            status, body = health_of(server.url)
            assert status == 503 and body["status"] == "unhealthy"
            (gave_up,) = body["supervisors"]
            assert gave_up["phase"] == "gave_up"
            assert gave_up["reason"] == "more than 0 restarts within 5.0 s (last: 'doomed', crash: RuntimeError)"
        tree.forget_ended()  # say, a new tree replaced it
        assert health_of(every_root.url) == (200, {"status": "ok", "ready": False, "supervisors": []})


def test_a_stopped_root_is_unhealthy_and_a_nested_supervisor_that_gave_up_is_its_parents_business() -> None:
    inner = ChildSpec(
        "fragile", Supervisor, kwargs={"children": [ChildSpec("f", Probe, kwargs={"name": "f"})], "max_restarts": 0}
    )
    root = Supervisor.start(children=[inner])
    with serve() as server:
        old = running("fragile")
        running("f").proxy().crash.defer()  # "fragile" gives up; root restarts it
        assert old.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
        root.proxy().settled().get(timeout=WAIT)
        status, body = health_of(server.url)
        assert status == 200 and [s["name"] for s in body["supervisors"]] == ["root"]
        assert body["supervisors"][0]["children"][0]["restarts"] == 1
    root.stop()
    with serve(root=root) as server:
        status, body = health_of(server.url)
        assert status == 503 and body["supervisors"][0]["phase"] == "stopped"


def test_readyz_is_503_while_the_root_starts() -> None:
    started: list[Any] = []
    spec = ChildSpec("late", Slow, kwargs={"name": "late"}, start_timeout=600.0)
    starter = threading.Thread(target=lambda: started.append(Supervisor.start(children=[spec])))
    starter.start()
    assert entered.wait(WAIT)
    with serve() as server:
        status, body = health_of(server.url, "/readyz")
        assert status == 503 and body["supervisors"][0]["phase"] == "starting"
        assert health_of(server.url)[0] == 200  # starting is healthy
        gate.set()
        starter.join(WAIT)
        assert health_of(server.url, "/readyz")[0] == 200


def test_metrics_serves_prometheus_text_or_openmetrics_and_tree_gauges_move() -> None:
    root = Supervisor.start(children=[ChildSpec("counted", Probe, kwargs={"name": "counted"})], name="gauged")
    with serve() as server:
        status, content_type, text = get(server.url + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        assert samples[("zixir_supervisor_children", (("state", "running"), ("supervisor", "gauged")))] == 1
        assert samples[("zixir_supervisor_healthy", (("supervisor", "gauged"),))] == 1
        _, content_type, text = get(server.url + "/metrics", accept="application/openmetrics-text")
        assert content_type.startswith("application/openmetrics-text") and text.endswith("# EOF\n")
        root.proxy().terminate_child("counted").get(timeout=WAIT)
        _, _, text = get(server.url + "/metrics")
        assert 'zixir_supervisor_children{state="stopped",supervisor="gauged"} 1.0' in text
        assert get(server.url + "/nope")[0] == 404


def test_a_flood_of_idle_connections_gets_503_instead_of_a_thread_each() -> None:
    with serve() as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(server_module.MAX_CONCURRENT)]
        try:
            # The handlers are waiting for request lines; one more request is refused at once.
            extra = socket.create_connection(("127.0.0.1", server.port))
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(WAIT)
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
            extra.close()
        finally:
            for connection in idle:
                connection.close()
        served = False
        for _ in range(100):  # the slots free as the idle handlers see their clients close
            served = get(server.url + "/healthz")[0] == 200
            if served:
                break
        assert served


def test_close_frees_the_port_and_bad_arguments_are_refused() -> None:
    server = serve()
    port = server.port
    server.close()
    server.close()  # idempotent
    with serve(port=port) as again:
        assert again.port == port
    with pytest.raises(InvalidArgumentError, match=r"^port must be between 0 and 65535, got 70000$"):
        serve(port=70000)
    with pytest.raises(InvalidArgumentError):
        serve(port=-1)
    with pytest.raises(ArgumentTypeError, match=r"^host must be a str such as '127.0.0.1', got 5$"):
        serve(host=5)  # type: ignore[arg-type]


def test_the_tree_views_stay_bounded_under_churn() -> None:
    for _ in range(300):
        Supervisor.start(children=[ChildSpec("churn", Probe, kwargs={"name": "churn"})]).stop()
    assert tree.supervisors() == []
    for _ in range(tree.ENDED_KEPT + 20):
        root = Supervisor.start(children=[ChildSpec("churn", Probe, kwargs={"name": "churn"})], max_restarts=0)
        running("churn").proxy().crash.defer()
        assert root.wait_exit(WAIT) is not None  # type: ignore[attr-defined]
    ended = tree.supervisors()
    assert len(ended) == tree.ENDED_KEPT and {s.phase for s in ended} == {"gave_up"}


def test_spans_are_served_on_loopback_filtered_by_trace_id_and_not_elsewhere_unless_asked() -> None:
    from zixir import tracing

    with tracing.span("request", user=7) as outer, tracing.span("inner"):
        pass
    with tracing.span("other"):
        pass
    with serve() as server:
        status, content_type, body = get(f"{server.url}/spans?trace_id={outer.trace_id}")
        assert status == 200 and content_type == "application/json"
        spans = json.loads(body)["spans"]
        assert [(s["name"], s["trace_id"]) for s in spans] == [("inner", outer.trace_id), ("request", outer.trace_id)]
        assert spans[1]["attributes"] == {"user": 7} and spans[0]["parent_id"] == outer.span_id
    with serve(spans=False) as server:
        assert get(server.url + "/spans")[0] == 404
    with serve(host="0.0.0.0") as anywhere:
        status, _, body = get(f"http://127.0.0.1:{anywhere.port}/spans")
        assert (status, body) == (404, "/spans is served on loopback only: serve(spans=True)\n")
    with serve(host="0.0.0.0", spans=True) as exposed:
        assert get(f"http://127.0.0.1:{exposed.port}/spans")[0] == 200

"""The wire protocol: control messages, call frames and reports survive the trip intact."""

from __future__ import annotations

import pickle
import socket
import threading

import pytest

from zixir.errors import RemoteError, SandboxLimitError, SerializationError
from zixir.sandbox import _payload, _protocol
from zixir.sandbox._protocol import Hello, ProtocolError, Report

REPORT = Report(
    "exception",
    0.25,
    40 << 20,
    30 << 20,
    20 << 20,
    1.5,
    False,
    True,
    None,
    "ValueError",
    "bad",
    "Traceback...\nValueError: bad\n",
)


def test_control_messages_round_trip_and_garbage_is_a_value_error() -> None:
    packet = _protocol.encode_control(_protocol.SPAWNED, 7, 4242)
    assert _protocol.decode_control(packet) == ("spawned", 7, 4242)
    for garbage in (b"", b"not a pickle", pickle.dumps(["spawned"]), pickle.dumps(())):
        with pytest.raises(ValueError, match=r"^not a sandbox control message: "):
            _protocol.decode_control(garbage)


def test_a_call_round_trips_and_names_its_target_by_import_path() -> None:
    body = _protocol.encode_call(len, ("abc",), {"key": (1, 2)})
    assert _protocol.decode_call(body) == (len, ("abc",), {"key": (1, 2)}, None)
    assert _protocol.decode_call(_protocol.encode_call(("pkg.mod", "Cls.f"), (), {})) == (
        ("pkg.mod", "Cls.f"),
        (),
        {},
        None,
    )


def test_reports_round_trip_and_come_back_as_reports() -> None:
    parts = _protocol.encode_report(tuple(REPORT), b"payload")
    assert b"".join(parts).find(b"\x80\x05") == -1  # no pickle: the host never unpickles a report
    report, payload = _protocol.decode_report(b"".join(parts))
    assert report == REPORT and isinstance(report, Report)
    assert bytes(payload) == b"payload"


def test_a_hello_is_told_from_a_report() -> None:
    hello = Hello(1234, 10 << 20, 5 << 20, 0.03)
    assert _protocol.decode_hello(b"".join(_protocol.encode_hello(hello))) == hello
    with pytest.raises(
        ValueError,
        match=r"^a sandbox worker's first frame is not its hello: "
        r"'exception'$",
    ):
        _protocol.decode_hello(b"".join(_protocol.encode_report(tuple(REPORT))))


def test_values_and_exceptions_round_trip_as_payloads() -> None:
    assert _payload.decode_value(_payload.encode_value({"a": [1, 2.5]}, False), False) == {"a": [1, 2.5]}
    error = _payload.decode_error(
        memoryview(_payload.encode_error(KeyError("k"), False, 1000)), "KeyError", "k", "", False
    )
    assert isinstance(error, KeyError) and error.args == ("k",)


def test_a_frame_larger_than_the_socket_buffer_arrives_whole() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    big = bytes(range(256)) * 16_384  # 4 MiB
    sender = threading.Thread(target=_protocol.send_frame, args=(theirs, b"head", big))
    sender.start()
    try:
        assert _protocol.recv_frame(ours) == b"head" + big
    finally:
        sender.join(30.0)
        ours.close()
        theirs.close()


def test_recv_frame_raises_eof_when_the_peer_closes_mid_frame() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.sendall(_protocol.HEADER.pack(100) + b"only part")
    theirs.close()
    with pytest.raises(EOFError, match="in the middle of a frame"):
        _protocol.recv_frame(ours)
    ours.close()


@pytest.mark.parametrize("chunk", [1, 3, 8, 1000])
def test_the_frame_reader_assembles_a_frame_from_any_chunking(chunk: int) -> None:
    body = b"".join(_protocol.encode_report(tuple(REPORT), b"x" * 500))
    wire = _protocol.HEADER.pack(len(body)) + body
    reader = _protocol.FrameReader(len(body))
    got = None
    for start in range(0, len(wire), chunk):
        assert got is None  # nothing before the last byte
        assert reader.wanted() >= 1
        got = reader.feed(wire[start : start + chunk])
    assert got is not None and bytes(got) == body


def test_the_frame_reader_refuses_bytes_past_its_frame() -> None:
    reader = _protocol.FrameReader(100)
    assert reader.feed(_protocol.HEADER.pack(10) + b"12345") is None
    with pytest.raises(ValueError, match=r"^the worker sent more than one frame$"):
        reader.feed(b"1234567890")


# -- hostile bytes: the host allocates nothing past its bound and runs nothing it is sent ----


@pytest.mark.parametrize("size", [4_000_000_000, 1 << 40, (1 << 64) - 1])
def test_the_frame_reader_refuses_a_length_over_its_bound_before_allocating(size: int) -> None:
    reader = _protocol.FrameReader(1 << 20)
    with pytest.raises(
        ProtocolError, match=rf"^the worker announced a frame of {size} bytes, over the bound of 1048576$"
    ):
        reader.feed(_protocol.HEADER.pack(size) + b"x")


def test_recv_frame_refuses_a_length_over_its_bound() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.sendall(_protocol.HEADER.pack(1 << 40))
    with pytest.raises(ProtocolError, match=r"^a frame of 1099511627776 bytes was announced, over the bound of 100$"):
        _protocol.recv_frame(ours, 100)
    ours.close()
    theirs.close()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", r"^a report of 0 bytes is shorter than its \d+-byte head$"),
        (
            _protocol.REPORT.pack(99, 0, 0.0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0),
            r"^a report names kind 99, which does not exist$",
        ),
        (
            _protocol.REPORT.pack(0, 0, 0.0, 0, 0, 0, 0.0, 0, 10, 0, 0, 0),
            r"^a report's strings and spans run 10 bytes past its end$",
        ),
        (pickle.dumps(("ok",)), r"^a report"),
    ],
)
def test_a_malformed_report_is_a_protocol_error(body: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        _protocol.decode_report(body)


class _Bomb(Exception):
    def __reduce__(self) -> tuple[object, ...]:
        return (print, ("this must never run in the host",))


def test_a_pickled_error_or_value_is_refused_without_allow_pickle() -> None:
    forged = _payload.encode_error(_Bomb("boom"), True, 1 << 20)  # as a worker that allows pickle would
    error = _payload.decode_error(forged, "app.Bomb", "boom", "Traceback...", False)
    assert isinstance(error, RemoteError) and str(error) == "app.Bomb: boom"
    with pytest.raises(SerializationError, match="not a payload kind"):
        _payload.decode_value(pickle.dumps(_Bomb()), False)


def test_errors_rebuild_only_as_builtin_or_zixir_types() -> None:
    forged = _payload.encode_value(["builtin", "eval", ["1"], {}], False)  # a builtin, not an error type
    assert isinstance(_payload.decode_error(forged, "X", "m", "", False), RemoteError)
    forged = _payload.encode_value(["zixir", "_rebuild", [], {}, {}], False)  # in zixir.errors, not an error
    assert isinstance(_payload.decode_error(forged, "X", "m", "", False), RemoteError)
    limit = SandboxLimitError("over", "cpu", 1.0, 2.5)
    limit.extra = "kept"  # type: ignore[attr-defined]
    back = _payload.decode_error(_payload.encode_error(limit, False, 1000), "", "", "", False)
    assert type(back) is SandboxLimitError
    assert (str(back), back.reason, back.limit, back.used, back.extra) == ("over", "cpu", 1.0, 2.5, "kept")  # type: ignore[attr-defined]

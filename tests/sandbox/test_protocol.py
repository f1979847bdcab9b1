"""The wire protocol: control messages, call frames and reports survive the trip intact."""

from __future__ import annotations

import pickle
import socket
import threading

import pytest

from zixir.sandbox import _protocol
from zixir.sandbox._protocol import Hello, Report

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
    assert _protocol.decode_call(body) == (len, ("abc",), {"key": (1, 2)})
    assert _protocol.decode_call(_protocol.encode_call(("pkg.mod", "Cls.f"), (), {})) == (("pkg.mod", "Cls.f"), (), {})


def test_reports_round_trip_and_come_back_as_reports() -> None:
    parts = _protocol.encode_report(tuple(REPORT), b"payload")
    assert type(pickle.loads(parts[1])) is tuple  # the worker's copy of the module has another name
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
    assert _protocol.decode_value(_protocol.encode_value({"a": [1, 2.5]})) == {"a": [1, 2.5]}
    error = _protocol.decode_value(memoryview(_protocol.encode_value(KeyError("k"))))
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
    reader = _protocol.FrameReader()
    got = None
    for start in range(0, len(wire), chunk):
        assert got is None  # nothing before the last byte
        assert reader.wanted() >= 1
        got = reader.feed(wire[start : start + chunk])
    assert got is not None and bytes(got) == body


def test_the_frame_reader_refuses_bytes_past_its_frame() -> None:
    reader = _protocol.FrameReader()
    assert reader.feed(_protocol.HEADER.pack(10) + b"12345") is None
    with pytest.raises(ValueError, match=r"^the worker sent more than one frame$"):
        reader.feed(b"1234567890")

#!/usr/bin/python3
"""ApiVersions against a real stratad with real clients (librdkafka via kcat,
kafka-python's protocol classes), KIP-511's fallback, and bad input on the
wire: oversized, truncated and garbage frames must close the connection and
leave the broker serving."""

import socket
import struct
import subprocess

from harness import Broker, _recv_exactly, run_tests

from kafka.protocol.admin import ApiVersionRequest_v0, ApiVersionRequest_v1, ApiVersionRequest_v2
from kafka.protocol.api import RequestHeader


def send_frame(sock, payload):
    sock.sendall(struct.pack(">i", len(payload)) + payload)


def recv_frame(sock):
    (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
    return _recv_exactly(sock, size)


def api_versions_frame(version, correlation_id, client_id=b"it"):
    # Request header v1 (v2 for ApiVersions v3+, with an empty tagged-field section).
    header = struct.pack(">hhih", 18, version, correlation_id, len(client_id)) + client_id
    if version >= 3:
        header += b"\x00"
        # compact strings: ClientSoftwareName, ClientSoftwareVersion, then no tags
        body = bytes([len(b"it") + 1]) + b"it" + bytes([len(b"1.0") + 1]) + b"1.0" + b"\x00"
    else:
        body = b""
    return header + body


def connection_closed(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_kcat_gets_past_api_versions():
    with Broker() as broker:
        out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-m", "3", "-d", "protocol"],
                             capture_output=True, text=True, timeout=30)
        log = out.stdout + out.stderr
        assert "Received ApiVersionResponse (v3" in log, log
        assert "ApiVersionRequest failed" not in log, log


def test_kafka_python_protocol_classes_decode_our_responses():
    with Broker() as broker:
        for version, cls in ((0, ApiVersionRequest_v0), (1, ApiVersionRequest_v1), (2, ApiVersionRequest_v2)):
            request = cls()
            header = RequestHeader(request, correlation_id=100 + version, client_id="kafka-python")
            with socket.create_connection(("127.0.0.1", broker.port)) as sock:
                send_frame(sock, header.encode() + request.encode())
                frame = recv_frame(sock)
            (correlation_id,) = struct.unpack(">i", frame[:4])
            assert correlation_id == 100 + version
            response = request.RESPONSE_TYPE.decode(frame[4:])
            assert response.error_code == 0
            keys = {k[0]: (k[1], k[2]) for k in response.api_versions}
            assert keys[18] == (0, 4), keys


def test_kip_511_newer_version_gets_v0_error_with_ranges():
    with Broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            send_frame(sock, api_versions_frame(127, 9))
            frame = recv_frame(sock)
        correlation_id, error_code, count = struct.unpack(">ihi", frame[:10])
        assert correlation_id == 9
        assert error_code == 35  # UNSUPPORTED_VERSION
        assert count >= 1


def test_pipelined_requests_answered_in_order():
    with Broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            payload = b"".join(struct.pack(">i", len(f)) + f
                               for f in (api_versions_frame(v % 5, 1000 + v) for v in range(50)))
            sock.sendall(payload)
            for v in range(50):
                (cid,) = struct.unpack(">i", recv_frame(sock)[:4])
                assert cid == 1000 + v, (cid, v)


def test_bad_frames_close_the_connection_and_the_broker_keeps_serving():
    with Broker() as broker:
        bad_inputs = [
            struct.pack(">i", 200 * 1024 * 1024),            # over socket.request.max.bytes
            struct.pack(">i", -5),                            # negative size
            struct.pack(">i", 2) + b"\x00\x12",              # too short for a header
            struct.pack(">i", 8) + b"\x7f\x7f\x00\x00\x00\x00\x00\x01",  # unknown API key
            struct.pack(">i", 12) + b"\x00\x12\x00\x03\x00\x00\x00\x01\x7f\xff\x00\x00",  # client id past the end
            struct.pack(">i", 10) + b"\x00\x00\x00\x09\x00\x00\x00\x01\xff\xff",  # Produce: not served yet
        ]
        for bad in bad_inputs:
            with socket.create_connection(("127.0.0.1", broker.port)) as sock:
                sock.sendall(bad)
                assert connection_closed(sock), bad
        # Still serving.
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            send_frame(sock, api_versions_frame(3, 5))
            assert struct.unpack(">i", recv_frame(sock)[:4])[0] == 5
        assert broker.proc.poll() is None


def test_sigterm_shuts_down_cleanly():
    broker = Broker().start()
    with socket.create_connection(("127.0.0.1", broker.port)):
        assert broker.stop() == 0, broker.log()


if __name__ == "__main__":
    run_tests([
        test_kcat_gets_past_api_versions,
        test_kafka_python_protocol_classes_decode_our_responses,
        test_kip_511_newer_version_gets_v0_error_with_ranges,
        test_pipelined_requests_answered_in_order,
        test_bad_frames_close_the_connection_and_the_broker_keeps_serving,
        test_sigterm_shuts_down_cleanly,
    ])

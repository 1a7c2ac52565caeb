"""Reading a PATCH body straight from gunicorn's socket (``uploads.wire``), with gunicorn's own
parser on a real socket pair and as deployed: the body arrives whole, and gunicorn then finds
the next request on a kept-alive connection exactly where it starts."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from tests.uploads.conftest import (
    OFFSET_STREAM,
    Deployment,
    ServerProcess,
    metadata,
    new_client_id,
)
from vigparent.uploads import wire


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    server.settimeout(5)  # a read that waits for bytes never sent fails instead of hanging
    yield client, server
    client.close()
    server.close()


def send_later(sock: socket.socket, *parts: bytes, close: bool = False) -> threading.Thread:
    """Send from another thread (a body bigger than the socket buffer would block us)."""

    def run() -> None:
        for part in parts:
            sock.sendall(part)
        if close:
            sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def patch_head(length: int) -> bytes:
    return (
        f"PATCH /api/uploads/abc HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
    )


def read_all(source: wire.BodySource, size: int = 65536) -> bytes:
    buf = bytearray(size)
    out = bytearray()
    while n := source.readinto(memoryview(buf)):
        out += buf[:n]
    return bytes(out)


@pytest.mark.parametrize("size", [100, 3 * 1024 * 1024 + 17])
def test_body_arrives_whole_and_the_next_request_parses(pair, size):
    client, server = pair
    body = os.urandom(size)
    # The next request is pipelined straight after the body. A small body comes in gunicorn's
    # first read together with the next request, which must go back to gunicorn, not into the
    # upload; a big one is mostly read from the socket by us.
    after = b"HEAD /next HTTP/1.1\r\nHost: x\r\n\r\n"
    sender = send_later(client, patch_head(len(body)) + body + after)
    parser = RequestParser(Config(), server, ("127.0.0.1", 1))
    first = next(parser)
    source = wire.socket_body({"wsgi.input": first.body}, len(body))
    assert isinstance(source, wire.SocketBody)
    assert read_all(source) == body
    assert source.readinto(memoryview(bytearray(10))) == 0  # never past the end
    second = next(parser)
    assert (second.method, second.path) == ("HEAD", "/next")
    sender.join()


@pytest.mark.parametrize("read", [0, 1000, 70_000])
def test_a_body_left_unread_or_read_in_part_is_drained_by_gunicorn(pair, read):
    """A PATCH refused before its body is needed (a wrong offset) reads none of it; one refused
    mid-way (not a video) reads part. gunicorn must still find the next request."""
    client, server = pair
    body = os.urandom(200_000)
    after = b"HEAD /next HTTP/1.1\r\nHost: x\r\n\r\n"
    sender = send_later(client, patch_head(len(body)) + body + after)
    parser = RequestParser(Config(), server, ("127.0.0.1", 1))
    first = next(parser)
    source = wire.socket_body({"wsgi.input": first.body}, len(body))
    assert source is not None
    got = bytearray()
    buf = bytearray(read)
    while len(got) < read and (n := source.readinto(memoryview(buf)[: read - len(got)])):
        got += buf[:n]
    assert bytes(got) == body[:read]
    second = next(parser)
    assert (second.method, second.path) == ("HEAD", "/next")
    sender.join()


def test_a_body_cut_short_ends_early_and_the_connection_is_not_reused(pair):
    client, server = pair
    send_later(client, patch_head(100_000) + os.urandom(5000), close=True)
    parser = RequestParser(Config(), server, ("127.0.0.1", 1))
    request = next(parser)
    source = wire.socket_body({"wsgi.input": request.body}, 100_000)
    assert source is not None
    assert len(read_all(source)) == 5000  # all that came; the caller sees the short count
    with pytest.raises(StopIteration):
        next(parser)  # nothing more can be parsed from a connection cut mid-body


def test_a_failed_read_marks_the_body_so_gunicorn_closes_the_connection(pair):
    client, server = pair
    send_later(client, patch_head(100_000) + b"x" * 10)
    parser = RequestParser(Config(), server, ("127.0.0.1", 1))
    request = next(parser)
    source = wire.socket_body({"wsgi.input": request.body}, 100_000)
    assert source is not None
    server.settimeout(0.2)  # the sender stalls: the read times out
    with pytest.raises(TimeoutError):
        read_all(source)
    assert request.body.failed
    assert parser.finish_body() is False  # gunicorn will not try to find a next request


def test_only_an_untouched_gunicorn_body_of_that_length_is_read_from_the_socket(pair):
    client, server = pair
    send_later(client, patch_head(10) + b"0123456789")
    request = next(RequestParser(Config(), server, ("127.0.0.1", 1)))
    assert wire.socket_body({"wsgi.input": request.body}, 11) is None  # not what gunicorn has
    assert request.body.read(2) == b"01"
    assert wire.socket_body({"wsgi.input": request.body}, 10) is None  # already read from
    assert wire.socket_body({"wsgi.input": object()}, 10) is None  # another server


def test_stream_body_reads_up_to_its_length():
    import io

    source = wire.StreamBody(io.BytesIO(b"abcdefgh"), 5)
    assert read_all(source, size=2) == b"abcde"


# -- end to end, under gunicorn as deployed ------------------------------------------------


def next_response(data: bytes, *, body: bool = True) -> tuple[bytes, bytes]:
    """The head of the first HTTP/1.1 response in ``data``, and what follows it and its body
    (``body=False``: the answer to a HEAD, whose Content-Length has no body behind it)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if body and name.strip().lower() == b"content-length":
            length = int(value)
    return head, rest[length:]


def test_patches_on_one_kept_alive_gunicorn_connection_store_the_exact_bytes(
    deployment: Deployment, big_webm: bytes
):
    """PATCHes and HEADs on kept-alive connections, one PATCH refused with its body unread and
    a HEAD pipelined straight behind a body: every answer is right and the stored file is
    byte-identical. The first PATCHes are several MiB (hashed in the helper thread)."""
    data = big_webm + os.urandom(5_000_000)  # a real WebM header: the magic-byte check passes
    server = ServerProcess("gunicorn", deployment.env).start()
    try:
        headers = {**deployment.signed.headers, "Tus-Resumable": "1.0.0"}
        size, step = len(data), 2_500_000
        with requests.Session() as session:
            r = session.post(
                f"{server.url}/api/uploads",
                headers={
                    **headers,
                    "Upload-Length": str(size),
                    "Upload-Metadata": metadata(client_id=new_client_id(), filetype="video/webm"),
                },
            )
            path = urlsplit(r.headers["Location"]).path
            offset = 0
            while offset < size - step:
                r = session.patch(
                    server.url + path,
                    data=data[offset : offset + step],
                    headers={
                        **headers,
                        "Content-Type": OFFSET_STREAM,
                        "Upload-Offset": str(offset),
                    },
                )
                assert r.status_code == 204, r.text
                offset = int(r.headers["Upload-Offset"])
                r = session.head(server.url + path, headers=headers)
                assert int(r.headers["Upload-Offset"]) == offset
        # On one raw connection, each request sent in one go right behind the one before: a
        # PATCH refused before its body is read (wrong offset), then the rest, then a HEAD.
        auth = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

        def patch(at: int, body: bytes) -> bytes:
            return (
                f"PATCH {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {OFFSET_STREAM}\r\n"
                f"Upload-Offset: {at}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body

        head = f"HEAD {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(patch(offset + 5, data[offset : offset + 50_000]))
            sock.sendall(patch(offset, data[offset:]) + head)
            answers = b""
            while answers.count(b"\r\n\r\n") < 3:
                piece = sock.recv(65536)
                assert piece, answers
                answers += piece
        refused, answers = next_response(answers)
        sent, answers = next_response(answers)
        asked, answers = next_response(answers, body=False)
        assert answers == b""
        assert (
            refused.startswith(b"HTTP/1.1 409") and f"Upload-Offset: {offset}".encode() in refused
        )
        assert sent.startswith(b"HTTP/1.1 204") and f"Upload-Offset: {size}".encode() in sent
        assert asked.startswith(b"HTTP/1.1 200") and f"Upload-Offset: {size}".encode() in asked
    finally:
        server.stop()
    rec = deployment.recording()
    assert deployment.stored(rec) == data
    assert rec.sha256 == hashlib.sha256(data).hexdigest()

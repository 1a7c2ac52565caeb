"""A PATCH body as it comes off the wire, read into buffers the caller owns.

An upload is nearly all request body, so how the body is read decides throughput. WSGI's
``wsgi.input.read(n)`` makes a new bytes object per call, and gunicorn builds each one from
socket reads through two ``BytesIO`` buffers: several copies of every byte before the app sees
it, which at hundreds of MB/s is a good part of the CPU an upload costs. So under gunicorn we
hand out the bytes gunicorn already read ahead, then ``recv_into`` straight from the
connection's socket, and keep gunicorn's own state in step, so keep-alive, a refused request
and a dropped connection behave exactly as if gunicorn had read the body itself.

Any other server, or a body of unknown length (chunked), is read through its stream.
"""

from __future__ import annotations

import io
import socket
from typing import IO, Any, Protocol

# The WSGI server we deploy with; the fast path is only for its exact classes.
from gunicorn.http.body import Body as GunicornBody
from gunicorn.http.body import LengthReader as GunicornLengthReader
from gunicorn.http.unreader import SocketUnreader as GunicornSocketUnreader


class BodySource(Protocol):
    """Fills ``buf`` with the next bytes of the body; returns 0 only when nothing more came.

    Raises when the connection fails (reset, timeout). Never reads past the body's end.
    """

    def readinto(self, buf: memoryview) -> int: ...


class SocketBody:
    """A body of known length, read from gunicorn's socket (see module doc).

    gunicorn's own state stays exact after every call: bytes it had read ahead are taken from
    its buffer only as they are handed out, and its count of unread body bytes goes down by
    what we return. So a body read only in part (or not at all, when a request is refused
    before its body is needed) is drained by gunicorn as usual, and the next request on the
    connection starts where it should.
    """

    def __init__(self, sock: socket.socket, body: Any) -> None:
        self._sock = sock
        self._body = body  # gunicorn's Body
        self._reader = body.reader  # its LengthReader: ``length`` is what is left to read
        self._unreader = body.reader.unreader  # its SocketUnreader: ``buf`` holds read-ahead

    def readinto(self, buf: memoryview) -> int:
        want = min(len(buf), self._reader.length)
        if want <= 0:
            return 0
        ahead = self._unreader.buf.getvalue()
        if ahead:
            n = min(want, len(ahead))
            buf[:n] = ahead[:n]
            self._unreader.buf = io.BytesIO()
            self._unreader.unread(ahead[n:])  # the rest stays gunicorn's
        else:
            try:
                n = self._sock.recv_into(buf, want)
            except Exception:
                # As gunicorn does when its own read fails: where the next request would
                # start is unknown, so the connection is not reused.
                self._body.failed = True
                raise
        self._reader.length -= n
        return n


class StreamBody:
    """A body read through a file-like stream, up to ``length`` bytes (None: to its end)."""

    def __init__(self, stream: IO[bytes], length: int | None) -> None:
        self._stream = stream
        self._left = length

    def readinto(self, buf: memoryview) -> int:
        want = len(buf) if self._left is None else min(len(buf), self._left)
        if want <= 0:
            return 0
        data = self._stream.read(want)
        n = len(data)
        buf[:n] = data
        if self._left is not None:
            self._left -= n
        return n


def socket_body(environ: dict[str, Any], length: int) -> SocketBody | None:
    """The body straight from gunicorn's socket, or None when that is not safe to do.

    Only for gunicorn's own reader of a Content-Length body that nobody has read from yet.
    """
    stream: Any = environ.get("wsgi.input")
    if type(stream) is not GunicornBody or stream.buf.tell():
        return None
    reader = stream.reader
    if type(reader) is not GunicornLengthReader or reader.length != length:
        return None
    if type(reader.unreader) is not GunicornSocketUnreader:
        return None
    return SocketBody(reader.unreader.sock, stream)

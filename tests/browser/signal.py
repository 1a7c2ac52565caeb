"""The phone's signal, for browsers the tests cannot put offline themselves.

WebKitWebDriver and Firefox's WebDriver BiDi have no "offline" switch like Playwright's, so
the live server sits behind this WSGI layer: with the signal off, every request's connection
is cut before any answer (to the browser, exactly a dropped network). It can also cut the
connection of one tus PATCH after the server stored its bytes, so the phone never hears the
answer and must ask (HEAD) where to go on from. It writes down each PATCH's offsets.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server

from tests.browser.conftest import closing_every_response


@dataclass
class Patch:
    offset: int  # Upload-Offset the phone sent
    accepted: int  # bytes the server stored from it (its new offset minus the old)
    answered: bool  # False: the connection was cut before the phone heard the answer


@dataclass
class Signal:
    app: Any
    on: bool = True
    cut_patch: int | None = None  # cut the answer of this PATCH (1 = the first)
    refused: list[str] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.on = True
        self.cut_patch = None
        self.refused.clear()
        self.patches.clear()
        self.methods.clear()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not self.on:
            self.refused.append(environ.get("PATH_INFO", ""))
            _cut(environ)
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/api/uploads"):
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        self.methods.append(environ["REQUEST_METHOD"])
        if environ["REQUEST_METHOD"] != "PATCH":
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        offset = int(environ.get("HTTP_UPLOAD_OFFSET", "0"))
        heard: dict[str, str] = {}

        def listen(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            heard.update((k.lower(), v) for k, v in headers)
            heard["status"] = status
            return start_response(status, headers, *exc)

        cut = self.cut_patch == len(self.patches) + 1
        body = b"".join(self.app(environ, listen if not cut else _silent(heard)))
        new_offset = int(heard.get("upload-offset", offset))
        self.patches.append(Patch(offset, new_offset - offset, not cut))
        if cut:
            _cut(environ)
        return [body]


def _silent(heard: dict[str, str]) -> Any:
    def listen(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        heard.update((k.lower(), v) for k, v in headers)
        return lambda data: None

    return listen


def _cut(environ: dict[str, Any]) -> None:
    """Drop the connection with no answer (werkzeug then treats it as a dropped client)."""
    sock: socket.socket = environ["werkzeug.socket"]
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError("signal lost")


class SignalServer:
    """A werkzeug live server (as tests/browser/conftest.py's) behind a Signal."""

    def __init__(self, app: Any) -> None:
        self.signal = Signal(app)
        self.server = make_server(
            "127.0.0.1", 0, closing_every_response(self.signal), threaded=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SignalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

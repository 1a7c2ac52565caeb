"""Upload fixtures: a signed-in parent speaking tus, real test videos, live servers.

`tus` drives raw tus requests through the Flask test client. `tus_url` + `signed_in` let a
real HTTP client (tuspy, requests, a raw socket) talk to a live threaded server running the
test app. `ServerProcess` runs the app as a separate production server process (waitress or
gunicorn) on its own data dir, for the crash test.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.browser.conftest import LiveServer
from tests.conftest import Factory
from tests.support.media import stored_media
from tests.support.parent_session import SignedIn, create_consenting_family, sign_in
from tests.support.servers import free_port, stop_process
from tests.support.videos import make_video, make_webm_with_garbage
from vigparent import create_app, db, settings_of
from vigparent.config import load_settings
from vigparent.db import Base
from vigparent.models import Family, Recording, User
from vigparent.serve import gunicorn_command
from vigparent.uploads.locks import lock_path

ROOT = Path(__file__).resolve().parents[2]
OFFSET_STREAM = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {b64(v)}" for k, v in pairs.items())


def new_client_id() -> str:
    return str(uuid.uuid4())


class Tus:
    """Raw tus 1.0.0 requests through the Flask test client, as a signed-in parent."""

    def __init__(self, client: FlaskClient, signed: SignedIn, family: Family, parent: User):
        self.client = client
        self.signed = signed
        self.family = family
        self.parent = parent
        client.set_cookie(signed.cookie_name, signed.cookie_value)

    @property
    def data_dir(self) -> Path:
        return Path(settings_of(self.client.application).data_dir)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Tus-Resumable": "1.0.0", "X-CSRFToken": self.signed.csrf_token, **extra}

    def create(
        self,
        length: int,
        client_id: str | None = None,
        filetype: str = "video/webm",
        body: bytes | None = None,
        **meta: str,
    ) -> Any:
        pairs = {"client_id": client_id or new_client_id(), "filetype": filetype, **meta}
        headers = self.headers(
            **{"Upload-Length": str(length), "Upload-Metadata": metadata(**pairs)}
        )
        if body is not None:
            headers["Content-Type"] = OFFSET_STREAM
        return self.client.post("/api/uploads", headers=headers, data=body)

    def head(self, url: str, **headers: str) -> Any:
        return self.client.head(url, headers=self.headers(**headers))

    def patch(self, url: str, offset: int, data: Any, **headers: str) -> Any:
        h = self.headers(**{"Content-Type": OFFSET_STREAM, "Upload-Offset": str(offset)})
        h.update(headers)
        return self.client.patch(url, headers=h, data=data)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers=self.headers())

    def status(self, client_id: str | None = None) -> Any:
        query = {"client_id": client_id} if client_id else {}
        return self.client.get("/api/uploads/status", query_string=query)

    def upload(self, data: bytes, chunk: int = 1 << 20, **create_kw: Any) -> str:
        """Create and send the whole file in chunks; return the upload URL."""
        r = self.create(len(data), **create_kw)
        assert r.status_code == 201, r.get_data(as_text=True)
        url = r.headers["Location"]
        for offset in range(0, len(data), chunk):
            r = self.patch(url, offset, data[offset : offset + chunk])
            assert r.status_code == 204, r.get_data(as_text=True)
        return url


@pytest.fixture
def family_with_parent(make: Factory) -> tuple[Family, User]:
    family = make.family()
    return family, make.parent_of(family)


@pytest.fixture
def tus(app: Flask, client: FlaskClient, family_with_parent: tuple[Family, User]) -> Tus:
    family, parent = family_with_parent
    return Tus(client, sign_in(app, parent.id), family, parent)


@pytest.fixture(scope="session")
def live(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def tus_url(live: LiveServer) -> str:
    return f"{live.url}/api/uploads"


# -- test videos (made once per session: encoding is the slow part) ------------------------


def _video(
    container: str, seconds: float, size: tuple[int, int] = (160, 120), fps: int = 15
) -> bytes:
    buf = io.BytesIO()
    make_video(buf, container=container, seconds=seconds, size=size, fps=fps)  # type: ignore[arg-type]
    return buf.getvalue()


@pytest.fixture(scope="session")
def webm() -> bytes:
    return _video("webm", 2.0)


@pytest.fixture(scope="session")
def mp4() -> bytes:
    return _video("mp4", 2.0)


@pytest.fixture(scope="session")
def big_webm() -> bytes:
    """About 220 KB: enough for several chunks and a mid-body interruption."""
    return _video("webm", 6.0, (854, 480), fps=30)


@pytest.fixture(scope="session")
def garbage_webm() -> bytes:
    buf = io.BytesIO()
    make_webm_with_garbage(buf, seconds=2.0)
    return buf.getvalue()


def upload_lock_held(data_dir: Path | str, upload_url: str) -> bool:
    """Whether a process holds the upload's lock, i.e. a PATCH for it is under way.

    Read from /proc/locks: trying the lock (or a HEAD, which takes it) to find out would
    itself turn that PATCH away as busy.
    """
    path = lock_path(data_dir, urlsplit(upload_url).path.rsplit("/", 1)[1])
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return False
    with open("/proc/locks") as locks:
        return any(
            field.endswith(f":{inode}")
            for line in locks
            if " FLOCK " in line
            for field in line.split()
        )


def wait_for_upload_lock(data_dir: Path | str, upload_url: str, held: bool = True) -> None:
    """Poll until a PATCH holds the upload's lock (``held``) or has let it go."""
    deadline = time.monotonic() + 10
    while upload_lock_held(data_dir, upload_url) != held:
        if time.monotonic() > deadline:
            pytest.fail(f"the upload's lock was never {'taken' if held else 'let go'}")
        time.sleep(0.02)


class RawPatch:
    """A PATCH sent by hand over a socket, so a test can stop half-way through the body."""

    def __init__(
        self, upload_url: str, auth: dict[str, str], offset: int, length: int, **extra: str
    ) -> None:
        parts = urlsplit(upload_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        headers = {
            "Host": f"{parts.hostname}:{parts.port}",
            "Tus-Resumable": "1.0.0",
            "Content-Type": OFFSET_STREAM,
            "Upload-Offset": str(offset),
            "Content-Length": str(length),
            **auth,
            **extra,
        }
        head = f"PATCH {parts.path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        self.sock.sendall(head.encode() + b"\r\n")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> bytes:
        """The final response's head, skipping interim 1xx ones (werkzeug's dev server sends
        "100 Continue" twice; HTTP clients must ignore extra interim responses)."""
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                piece = self.sock.recv(65536)
                if not piece:
                    return data
                data += piece
            if data.startswith(b"HTTP/1.1 1"):
                data = data.split(b"\r\n\r\n", 1)[1]
                continue
            return data

    def close(self) -> None:
        self.sock.close()


# -- a real production server process --------------------------------------------------------


class ServerProcess:
    """The app under waitress or gunicorn (as deployed) in its own process, on its own data dir."""

    def __init__(self, kind: str, env: dict[str, str], port: int | None = None) -> None:
        self.kind = kind
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        if self.kind == "waitress":
            return [
                sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{self.port}",
                "--threads=4", "--call", "vigparent:create_app",
            ]  # fmt: skip
        return gunicorn_command(f"127.0.0.1:{self.port}")  # as make run and the README serve

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.options(f"{self.url}/api/uploads", timeout=5)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flushing, exactly like a crash or the OOM killer."""
        assert self.proc is not None
        # gunicorn's worker is a child of its arbiter: kill the whole tree, by pid.
        children = psutil.Process(self.proc.pid).children(recursive=True)
        for p in [*children, psutil.Process(self.proc.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                os.kill(p.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        psutil.wait_procs(children, timeout=10)

    def stop(self) -> None:
        stop_process(self.proc)


# -- a deployment: its own data dir, served by a separate process --------------------------


class Deployment:
    """A data dir with a family and a signed-in parent, served by a separate process."""

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.env = {
            **os.environ,
            "VIGPARENT_DATA_DIR": str(data_dir),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        for name in ("DATABASE_URL", "HUEY_REDIS_URL", "VIGPARENT_ENV"):
            self.env.pop(name, None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        # The same settings in this process, to set up rows and to read the stored file back.
        self.app: Flask = create_app(load_settings(self.env))
        with self.app.app_context():
            Base.metadata.create_all(self.app.extensions["vig_engine"])
        self.parent_id = create_consenting_family(self.app)
        self.signed: SignedIn = sign_in(self.app, self.parent_id)

    def recording(self) -> Recording:
        with self.app.app_context():
            rows = db.session().query(Recording).all()
            assert len(rows) == 1
            return rows[0]

    def stored(self, rec: Recording) -> bytes:
        with self.app.app_context():
            return stored_media(rec)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    yield Deployment(tmp_path / "data")

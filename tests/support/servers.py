"""Real Redis and S3 servers for the scale-out tests, started on free ports and stopped after.

Redis is Debian's ``redis-server`` (`.ci/run` installs it); the S3 endpoint is moto's
standalone server (``moto_server``, from the dev lock), speaking the S3 protocol over HTTP as
MinIO or AWS S3 do in production. VIGPARENT_TEST_REDIS_URL / VIGPARENT_TEST_S3_URL name
servers already running instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

BIN = Path(sys.executable).parent


def free_ports(count: int) -> list[int]:
    """``count`` different loopback ports free now (held together while chosen, so no two are
    the same, as two calls of ``free_port`` may be)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def free_port() -> int:
    return free_ports(1)[0]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not installed in CI")
    pytest.skip(f"{what} is not installed")


def _wait(ready: object, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            if ready():  # type: ignore[operator]
                return
        except (redis.RedisError, requests.RequestException, OSError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Ask a process of ours to stop, and kill it if it has not within 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class TestServer:
    """A server process of ours, or one the environment names (then left alone)."""

    __test__ = False

    def __init__(self, url: str, proc: subprocess.Popen[bytes] | None) -> None:
        self.url = url
        self.proc = proc

    def stop(self) -> None:
        stop_process(self.proc)


def start_redis(tmp: Path) -> TestServer:
    if url := os.environ.get("VIGPARENT_TEST_REDIS_URL"):
        return TestServer(url, None)
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        _missing("redis-server")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    # In memory only, loopback only: a throw-away server for one test run.
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    _wait(client.ping, proc, "redis-server")
    client.close()
    return TestServer(url, proc)


def start_s3() -> TestServer:
    if url := os.environ.get("VIGPARENT_TEST_S3_URL"):
        return TestServer(url, None)
    exe = BIN / "moto_server"
    if not exe.exists():
        _missing("moto_server (moto[server])")
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: requests.get(url, timeout=2).status_code < 500, proc, "moto_server")
    return TestServer(url, proc)

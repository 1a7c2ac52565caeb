"""Live review control channel: how closely 20 phones follow, and what it costs them.

Loopback only, bounded in count and time; our server as `make run` serves it (gunicorn, one
gevent worker, `vigparent/gunicorn_config.py`) side by side with a minimal peer
(`bench/peers/sse-relay.mjs`: Node's own http, rooms in memory, no sign-in, no database).

20 live reviews at once (``--sessions``), each with a follower (the parent's phone: one
Server-Sent Events stream) and a leader (the practitioner: JSON command posts, signed in with
cookie and CSRF header on ours, through the access check, stored in the database and fanned
out). Measured, per server:

- sync, over ``--commands`` commands in all (default 200, spread over the sessions, a random
  50-400 ms apart): the delivery time (the leader starts its post -> the follower has the
  event) and the sync error: where the follower puts the clip when it applies a playing
  command (the room's time plus the time since the command, on the server's clock as the
  follower estimates it, exactly as static/js/live-sync.js does) against where the leader's
  clip truly is at that moment. Paused commands have no error once applied (both show the
  commanded time), so the error is over the playing ones.
- control traffic per minute of session: ``--minute-s`` seconds (default 60) of all 20
  sessions with the leader sending a command every ``--every-s`` seconds (default 2: a busy
  practitioner), counting every byte of HTTP both sides send and receive, headers included
  (chunk framing not counted), for one session's phone and practitioner together. Target:
  under 50 KB.

    .venv/bin/python bench/live.py [--sessions 20] [--commands 200] [--minute-s 60]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from repo_root import ROOT
from upload import Server

PEER_JS = ROOT / "bench" / "peers" / "sse-relay.mjs"
RUN_LIMIT_S = 600  # no phase of one server lasts longer than this


def wall_ms() -> float:
    return time.time() * 1000


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Session:
    events_url: str
    command_url: str
    leader_headers: dict[str, str]
    follower_headers: dict[str, str]
    clip: int


class Peer(Server):
    name = "peer (Node SSE relay)"

    def __init__(self) -> None:
        super().__init__()
        self.endpoint = f"http://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        return ["node", str(PEER_JS), str(self.port)]

    def sessions(self, count: int) -> list[Session]:
        base = f"http://127.0.0.1:{self.port}/rooms"
        return [
            Session(f"{base}/r{n}/events", f"{base}/r{n}/command", {}, {}, 1) for n in range(count)
        ]


class Ours(Server):
    name = "ours (gunicorn + gevent)"

    def __init__(self, work: Path) -> None:
        super().__init__()
        self.endpoint = f"http://127.0.0.1:{self.port}/login"
        self._env = {
            **os.environ,
            "VIGPARENT_DATA_DIR": str(work / "ours"),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        for name in ("DATABASE_URL", "HUEY_REDIS_URL", "VIGPARENT_ENV"):
            self._env.pop(name, None)
        self._sessions: list[Session] = []

    def env(self) -> dict[str, str]:
        return self._env

    def command(self) -> list[str]:
        from vigparent.serve import gunicorn_command

        return gunicorn_command(f"127.0.0.1:{self.port}")

    def prepare(self, count: int) -> None:
        """Families with a published clip each, a live review open, both people signed in."""
        from tests.media.factories import add_clip, add_cycle, add_recording
        from tests.support.parent_session import create_consenting_family, sign_in
        from vigparent import create_app, db
        from vigparent.config import load_settings
        from vigparent.db import Base
        from vigparent.live import service as live
        from vigparent.models import User

        app = create_app(load_settings(self._env))
        with app.app_context():
            Base.metadata.create_all(app.extensions["vig_engine"])
            s = db.session()
            for _n in range(count):
                parent = s.get(User, create_consenting_family(app))
                assert parent is not None and parent.family is not None
                family = parent.family
                lead = family.practitioner
                recording = add_recording(family, parent, cycle=add_cycle(family), seconds=1.0)
                clip = add_clip(recording, start=0.1, end=0.9)
                live.start(family, lead)
                base = f"http://127.0.0.1:{self.port}/live/families/{family.id}"
                self._sessions.append(
                    Session(
                        f"{base}/events",
                        f"{base}/command",
                        _as_a_browser_holds_it(app, sign_in(app, lead.id, "bench").headers),
                        _as_a_browser_holds_it(app, sign_in(app, parent.id, "bench").headers),
                        clip.id,
                    )
                )
        app.extensions["vig_engine"].dispose()

    def sessions(self, count: int) -> list[Session]:
        return self._sessions[:count]


def _as_a_browser_holds_it(app: Any, headers: dict[str, str]) -> dict[str, str]:
    """The sign-in cookie as a browser holds it after its first page.

    Signing in adds Flask-Login's session identifier (made from the address and the browser's
    name) to the session on the first request, and a browser keeps the cookie it is sent back.
    A cookie sent unchanged forever would be updated, and sent back, on every answer: not what
    a phone or a laptop sees. So the bench sends a browser name and the settled cookie.
    """
    headers = {**headers, "User-Agent": "vig-bench"}
    answer = app.test_client(use_cookies=False).get("/home/", headers=headers)
    cookie = answer.headers.get("Set-Cookie", "")
    if cookie.startswith("vig_session="):
        headers["Cookie"] = cookie.split(";", 1)[0]
    return headers


# -- the follower (a phone) and the leader (a practitioner) ----------------------------------


class Wire:
    """One HTTP/1.1 connection on a plain socket, counting every byte each way exactly
    (headers and chunk framing included)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.buffer = b""
        self.bytes_in = 0
        self.bytes_out = 0

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = [f"{method} {urlsplit(url).path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.sock.sendall(data)
        self.bytes_out += len(data)

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.bytes_in += len(data)
        self.buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def head(self) -> tuple[int, dict[str, str]]:
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        return status, headers

    def chunks(self) -> Iterator[bytes]:
        """The body of a chunked answer, one chunk at a time as it arrives."""
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._until(b"\r\n")
                return
            chunk = self._exactly(size)
            self._exactly(2)
            yield chunk

    def body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding") == "chunked":
            return b"".join(self.chunks())
        return self._exactly(int(headers.get("content-length", "0")))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading
        self.sock.close()


@dataclass
class Follower:
    """Reads one room's event stream in a thread, as the phone's page does."""

    session: Session
    received: dict[int, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    offsets: list[float] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    wire: Wire | None = None

    @property
    def bytes(self) -> int:
        return self.wire.bytes_in + self.wire.bytes_out if self.wire else 0

    def run(self) -> None:
        try:
            self._read()
        except (OSError, ValueError):
            if not self.stop.is_set():
                raise

    def close(self) -> None:
        self.stop.set()
        if self.wire is not None:
            self.wire.close()

    def _read(self) -> None:
        self.wire = wire = Wire(self.session.events_url)
        wire.send(
            "GET",
            self.session.events_url,
            {**self.session.follower_headers, "Accept": "text/event-stream"},
        )
        status, _headers = wire.head()
        if status != 200:
            raise RuntimeError(f"event stream answered {status}")
        pending = b""
        for chunk in wire.chunks():
            arrived = wall_ms()
            pending += chunk
            while b"\n\n" in pending:
                block, pending = pending.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        self._message(json.loads(line[6:]), arrived)
            if self.stop.is_set():
                return

    def _message(self, data: dict[str, Any], arrived: float) -> None:
        if isinstance(data.get("now"), int | float):
            self.offsets.append(data["now"] - arrived)
            del self.offsets[:-20]
        if data.get("type") == "snapshot":
            self.ready.set()
        elif data.get("type") == "state":
            self.received[int(data["time"] * 1000)] = (arrived, data)

    def server_now(self, local_ms: float) -> float:
        return local_ms + (max(self.offsets) if self.offsets else 0.0)


class Leader:
    """The practitioner's page posting commands on one kept-alive connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.wire = Wire(session.command_url)

    @property
    def bytes(self) -> int:
        return self.wire.bytes_in + self.wire.bytes_out

    def send(self, time_s: float, playing: bool, at_ms: float) -> None:
        body = json.dumps(
            {"clip": self.session.clip, "time": time_s, "playing": playing, "at": int(at_ms)}
        ).encode()
        headers = {**self.session.leader_headers, "Content-Type": "application/json"}
        self.wire.send("POST", self.session.command_url, headers, body)
        status, answer = self.wire.head()
        self.wire.body(answer)
        if status != 200:
            raise RuntimeError(f"command answered {status}")

    def close(self) -> None:
        self.wire.close()


def _follow(sessions: list[Session]) -> tuple[list[Follower], list[threading.Thread]]:
    followers = [Follower(s) for s in sessions]
    threads = [threading.Thread(target=f.run, daemon=True) for f in followers]
    for t in threads:
        t.start()
    for f in followers:
        if not f.ready.wait(30):
            raise RuntimeError("a follower did not get its snapshot")
    return followers, threads


def _stop(followers: list[Follower], threads: list[threading.Thread]) -> None:
    for f in followers:
        f.close()
    for t in threads:
        t.join(timeout=5)


# -- phase 1: sync over N commands -----------------------------------------------------------------


@dataclass
class Sync:
    delivery_ms: list[float] = field(default_factory=list)
    error_ms: list[float] = field(default_factory=list)
    lost: int = 0
    failures: list[str] = field(default_factory=list)


def measure_sync(server: Any, sessions: int, commands: int, seed: int) -> Sync:
    result = Sync()
    followers, threads = _follow(server.sessions(sessions))
    per_session = max(1, commands // sessions)
    deadline = time.monotonic() + RUN_LIMIT_S

    def lead(follower: Follower, n: int) -> None:
        try:
            commands_of(follower, n)
        except Exception as e:  # noqa: BLE001 - reported below, never silently lost
            result.failures.append(repr(e))

    def commands_of(follower: Follower, n: int) -> None:
        rand = random.Random(seed + n)
        leader = Leader(follower.session)
        try:
            _commands(leader, follower, rand)
        finally:
            leader.close()

    def _commands(leader: Leader, follower: Follower, rand: random.Random) -> None:
        for k in range(per_session):
            time.sleep(rand.uniform(0.05, 0.4))
            playing = k % 2 == 0
            # The leader's clip "was" at this time when the command was taken: unique within
            # the session (so the follower's copy can be matched to it) and inside the clip.
            media_t = round(0.001 * (k + 1), 3)
            started = wall_ms()
            leader.send(media_t, playing, started)
            got = None
            give_up = min(deadline, time.monotonic() + 10)
            while got is None and time.monotonic() < give_up:
                got = follower.received.get(int(media_t * 1000))
                if got is None:
                    time.sleep(0.001)
            if got is None:
                result.lost += 1
                continue
            arrived, event = got
            result.delivery_ms.append(arrived - started)
            if playing:
                # Where the follower puts the clip (live-sync.js expectedTime) vs the truth.
                estimate = event["time"] + (follower.server_now(arrived) - event["at"]) / 1000
                truth = media_t + (arrived - started) / 1000
                result.error_ms.append(abs(estimate - truth) * 1000)

    leaders = [
        threading.Thread(target=lead, args=(f, n), daemon=True) for n, f in enumerate(followers)
    ]
    for t in leaders:
        t.start()
    for t in leaders:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    _stop(followers, threads)
    return result


# -- phase 2: traffic per minute of session --------------------------------------------------------


def measure_traffic(
    server: Any, sessions: int, seconds: float, every_s: float
) -> tuple[float, float]:
    """Bytes per minute of one session, (the phone's, the practitioner's commands'), averaged
    over the sessions."""
    followers, threads = _follow(server.sessions(sessions))
    leaders = [Leader(f.session) for f in followers]
    start = time.monotonic()

    def lead(leader: Leader, n: int) -> None:
        rand = random.Random(n)
        t = 0.0
        while time.monotonic() - start < seconds:
            time.sleep(min(every_s, max(0.0, seconds - (time.monotonic() - start))))
            t += every_s
            leader.send(round(t % 60, 3), rand.random() < 0.5, wall_ms())

    threads_l = [
        threading.Thread(target=lead, args=(lead_, n), daemon=True)
        for n, lead_ in enumerate(leaders)
    ]
    for t in threads_l:
        t.start()
    for t in threads_l:
        t.join(timeout=seconds + 60)
    elapsed_min = (time.monotonic() - start) / 60
    phone = sum(f.bytes for f in followers)
    practitioner = sum(lead_.bytes for lead_ in leaders)
    for lead_ in leaders:
        lead_.close()
    _stop(followers, threads)
    return phone / sessions / elapsed_min, practitioner / sessions / elapsed_min


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--minute-s", type=float, default=60.0)
    parser.add_argument("--every-s", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vig-bench-live-"))
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"peer: {PEER_JS.relative_to(ROOT)} on node {node}; ours: gunicorn, one gevent worker")
    print(
        f"{args.sessions} live reviews at once; {args.commands} commands; "
        f"{args.minute_s:.0f} s of traffic at one command every {args.every_s:g} s per session"
    )
    ours, peer = Ours(work), Peer()
    results: dict[str, tuple[Sync, tuple[float, float]]] = {}
    try:
        ours.prepare(args.sessions)
        for server in (peer, ours):
            server.start()
            try:
                sync = measure_sync(server, args.sessions, args.commands, args.seed)
                traffic = measure_traffic(server, args.sessions, args.minute_s, args.every_s)
            finally:
                server.stop()
            results[server.name] = (sync, traffic)
            print(
                f"  {server.name:<26} delivery p50 {pct(sync.delivery_ms, 0.5):6.1f} ms "
                f"p99 {pct(sync.delivery_ms, 0.99):6.1f} ms  sync error p50 "
                f"{pct(sync.error_ms, 0.5):5.1f} ms p99 {pct(sync.error_ms, 0.99):5.1f} ms "
                f"({len(sync.delivery_ms)} delivered, {sync.lost} lost, "
                f"{len(sync.failures)} failed {sync.failures[:1]})  "
                f"per session-minute: phone {traffic[0] / 1000:5.1f} KB, "
                f"practitioner's commands {traffic[1] / 1000:5.1f} KB",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (o_sync, o_traffic), (p_sync, p_traffic) = results[ours.name], results[peer.name]
    print()
    print("ours / peer:")
    for label, ours_v, peer_v in (
        ("delivery p50", pct(o_sync.delivery_ms, 0.5), pct(p_sync.delivery_ms, 0.5)),
        ("delivery p99", pct(o_sync.delivery_ms, 0.99), pct(p_sync.delivery_ms, 0.99)),
        ("sync error p50", pct(o_sync.error_ms, 0.5), pct(p_sync.error_ms, 0.5)),
        ("sync error p99", pct(o_sync.error_ms, 0.99), pct(p_sync.error_ms, 0.99)),
        ("phone KB / session-minute", o_traffic[0], p_traffic[0]),
        ("commands KB / session-min", o_traffic[1], p_traffic[1]),
    ):
        ratio = ours_v / peer_v if peer_v else float("inf")
        print(f"  {label:<26} {ratio:6.2f}")
    for label, value in (("the phone", o_traffic[0]), ("phone and practitioner", sum(o_traffic))):
        verdict = "under" if value < 50_000 else "OVER"
        print(f"ours, {label}: {value / 1000:.1f} KB per session-minute ({verdict} 50 KB)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

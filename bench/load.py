"""Many phones at once on slow links: our server as `make run` serves it, against @tus/server.

Loopback only; every loop is bounded in count and time, and the script stops by itself.

For each N in ``--phones`` (default 8, 64, 200), each server in turn gets, at the same time:
- N phones, each sending a ``--mb`` MB video (default 20) at ``--mbit`` Mbit/s (default 1) in
  ``--chunk-mib`` PATCHes (default 5, the app's own chunk size), paced by the client;
- ``--idle`` hostile connections (default 1,000), half silent after connecting, half sending
  a header byte every 2 s; any the server closes are opened again at once;
- probes every 0.2 s: ``GET /login`` and a signed-in parent's home (ours), ``OPTIONS`` of the
  tus endpoint (peer), each timing out after 10 s (counted as unanswered);
- (ours) after a third of the expected upload time, a parent of another family taps
  "withdraw": the time until the answer is printed.

Reported per server and N: uploads completed byte-identical (ours: the sha256 the server
recorded; peer: the stored file) and exactly one recording each; probe latency p50/p99/max
and the number unanswered; server CPU seconds per GB received; peak memory of the whole
process tree as PSS. Then, with no uploads, how many idle connections each server holds
before a probe takes over 2 s (ramped up to ``--max-idle``).

    .venv/bin/python bench/load.py [--phones 8,64,200] [--mb 20] [--mbit 1] [--idle 1000]

Ours runs as ``vigparent.serve`` starts it (``vigparent/gunicorn_config.py``: gunicorn, one
gevent worker) without the job consumer, so the queued video checks do not compete for CPU;
the files are a real WebM header and random bytes, as in bench/upload.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import resource
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from upload import MB, MIB, Ours, Peer, RssSampler, Server, make_file, server_cpu

# Every wait here is bounded: no run of one server and N lasts longer than this.
RUN_LIMIT_S = 900


@dataclass
class Run:
    server: str
    phones: int
    completed: int = 0
    client_ids: list[str] = field(default_factory=list)  # uploads the client saw finish
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    unanswered: int = 0
    withdrawal_s: float | None = None
    cpu_s_per_gb: float = 0.0
    peak_pss: int = 0


# -- the server under test -------------------------------------------------------------------


class OursUnderLoad(Ours):
    """Our app as deployed, with one family (and signed-in phone) per uploading parent."""

    def __init__(self, work: Path, phones: int) -> None:
        super().__init__("gunicorn", work / f"n{phones}")
        self.phones: list[dict[str, str]] = []
        self.family_ids: list[int] = []
        self.bystander: dict[str, str] = {}

    def prepare_phones(self, count: int) -> None:
        from tests.support.parent_session import create_consenting_family, sign_in
        from vigparent import db
        from vigparent.models import User

        self.prepare()
        assert self.app is not None
        for _ in range(count + 1):
            parent_id = create_consenting_family(self.app, quota_bytes=1 << 40)
            with self.app.app_context():
                family_id = db.session().get(User, parent_id).family_id  # type: ignore[union-attr]
            self.family_ids.append(family_id)
            self.phones.append(sign_in(self.app, parent_id, "load").headers)
        self.bystander = self.phones.pop()  # withdraws mid-run; sends nothing

    def recorded(self) -> dict[str, tuple[int, str | None]]:
        """client_id → (recordings with it, sha256 the server recorded)."""
        from sqlalchemy import select

        from vigparent import db
        from vigparent.models import Recording

        assert self.app is not None
        seen: dict[str, tuple[int, str | None]] = {}
        with self.app.app_context():
            for rec in db.session().scalars(select(Recording)):
                count = seen.get(rec.client_id, (0, None))[0]
                seen[rec.client_id] = (count + 1, rec.sha256)
        return seen


# -- clients ---------------------------------------------------------------------------------


def paced_patch(server: Server, headers: dict[str, str], url: str, offset: int, data: bytes,
                rate_bps: float, stop_at: float) -> int:  # fmt: skip
    """One PATCH over a raw socket, its body sent at ``rate_bps``; returns the new offset."""
    parts = urlsplit(url)
    head = {
        "Host": f"127.0.0.1:{server.port}",
        "Tus-Resumable": "1.0.0",
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
        "Content-Length": str(len(data)),
        **headers,
    }
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(
            (f"PATCH {parts.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
             + "\r\n").encode()
        )  # fmt: skip
        start = time.monotonic()
        step = 16 * 1024
        for pos in range(0, len(data), step):
            due = start + pos * 8 / rate_bps
            if due > stop_at:
                raise TimeoutError("run limit")
            time.sleep(max(0.0, due - time.monotonic()))
            sock.sendall(data[pos : pos + step])
        response = b""
        while b"\r\n\r\n" not in response:
            piece = sock.recv(4096)
            if not piece:
                break
            response += piece
    status = int(response.split(b" ", 2)[1]) if response else 0
    if status != 204:
        raise RuntimeError(f"PATCH answered {status}: {response[:200]!r}")
    for line in response.split(b"\r\n"):
        if line.lower().startswith(b"upload-offset:"):
            return int(line.split(b":", 1)[1])
    raise RuntimeError("no Upload-Offset")


def phone(server: Server, headers: dict[str, str], data: bytes, args: argparse.Namespace,
          stop_at: float, run: Run, lock: threading.Lock) -> None:  # fmt: skip
    client_id = str(uuid.uuid4())
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"client_id": client_id, "filetype": "video/webm"}.items()
    )
    base = {"Tus-Resumable": "1.0.0", **headers}
    try:
        r = requests.post(
            server.endpoint,
            headers={**base, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
            timeout=60,
        )
        r.raise_for_status()
        url = r.headers["Location"]
        if url.startswith("/"):
            url = f"http://127.0.0.1:{server.port}{url}"
        offset, chunk = 0, args.chunk_mib * MIB
        while offset < len(data):
            body = data[offset : offset + chunk]
            offset = paced_patch(server, headers, url, offset, body, args.mbit * 1e6, stop_at)
        with lock:
            run.client_ids.append(client_id)
    except Exception as exc:  # noqa: BLE001 - every failure is counted and printed
        with lock:
            run.failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")


class Hostile:
    """``count`` idle connections: half silent, half trickling a header byte every 2 s."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.socks: list[socket.socket | None] = [None] * count
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int) -> None:
        with contextlib.suppress(OSError):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            s.setblocking(False)
            if i % 2:
                s.send(b"GET /login HTTP/1.1\r\n")
            self.socks[i] = s

    def _run(self) -> None:
        last_trickle = time.monotonic()
        while not self._stop.is_set():
            trickle = time.monotonic() - last_trickle > 2
            for i, s in enumerate(self.socks):
                if self._stop.is_set():
                    break
                if s is None:
                    self._open(i)
                    continue
                try:
                    if s.recv(4096) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    if trickle and i % 2:
                        with contextlib.suppress(OSError):
                            s.send(b"X")
                    continue
                except OSError:
                    pass
                s.close()
                self.socks[i] = None
                self.reopened += 1
            if trickle:
                last_trickle = time.monotonic()
            self._stop.wait(0.2)

    def __enter__(self) -> Hostile:
        for i in range(self.count):
            self._open(i)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for s in self.socks:
            if s is not None:
                s.close()


def probe_urls(server: Server) -> list[tuple[str, str, dict[str, str]]]:
    base = f"http://127.0.0.1:{server.port}"
    if isinstance(server, OursUnderLoad):
        home = [("GET", f"{base}/home/", server.phones[0])] if server.phones else []
        return [("GET", f"{base}/login", {}), *home]
    return [("OPTIONS", server.endpoint, {"Tus-Resumable": "1.0.0"})]


def prober(server: Server, run: Run, stop: threading.Event) -> None:
    urls = probe_urls(server)
    k = 0
    while not stop.is_set():
        method, url, headers = urls[k % len(urls)]
        k += 1
        start = time.monotonic()
        try:
            r = requests.request(method, url, headers=headers, timeout=10, allow_redirects=False)
            if r.status_code >= 500:
                raise RuntimeError(r.status_code)
            run.latencies.append(time.monotonic() - start)
        except Exception:  # noqa: BLE001 - unanswered, or answered with an error
            run.unanswered += 1
        stop.wait(0.2)


def withdraw(server: OursUnderLoad, run: Run) -> None:
    start = time.monotonic()
    try:
        r = requests.post(
            f"http://127.0.0.1:{server.port}/withdrawal/withdraw",
            headers={**server.bystander, "Accept": "application/json"},
            timeout=120,
            allow_redirects=False,
        )
        if r.status_code < 400:
            run.withdrawal_s = time.monotonic() - start
    except requests.RequestException:
        pass


# -- one run -----------------------------------------------------------------------------------


def load_run(server: Server, n: int, data: bytes, args: argparse.Namespace) -> Run:
    run = Run(server.name, n)
    lock = threading.Lock()
    phones = server.phones if isinstance(server, OursUnderLoad) else [{}] * n
    expected_s = len(data) * 8 / (args.mbit * 1e6)
    stop_at = time.monotonic() + min(RUN_LIMIT_S, expected_s * 3 + 60)
    stop = threading.Event()
    cpu_before = server_cpu(server)
    with RssSampler(server) as rss, Hostile(server.port, args.idle):
        probe = threading.Thread(target=prober, args=(server, run, stop), daemon=True)
        probe.start()
        threads = [
            threading.Thread(target=phone, args=(server, phones[i], data, args, stop_at, run, lock))
            for i in range(n)
        ]
        for t in threads:
            t.start()
        if isinstance(server, OursUnderLoad):
            time.sleep(expected_s / 3)
            withdraw(server, run)
        for t in threads:
            t.join(timeout=max(1.0, stop_at - time.monotonic()))
        stop.set()
        probe.join(timeout=15)
    run.cpu_s_per_gb = (server_cpu(server) - cpu_before) / (n * len(data) / 1e9)
    run.peak_pss = rss.peak_pss
    if isinstance(server, OursUnderLoad):
        digest = hashlib.sha256(data).hexdigest()
        recorded = server.recorded()
        # Exactly one recording each, byte-identical.
        run.completed = sum(1 for c in run.client_ids if recorded.get(c) == (1, digest))
    else:
        assert isinstance(server, Peer)
        digest = hashlib.sha256(data).hexdigest()
        stored = [p for p in server.files.iterdir() if p.suffix != ".json"]
        run.completed = sum(1 for p in stored if _sha256(p) == digest)
    return run


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(MIB):
            h.update(piece)
    return h.hexdigest()


def idle_tolerance(server: Server, most: int) -> int:
    """Idle (silent and partial-header) connections held before a probe takes over 2 s."""
    method, url, headers = probe_urls(server)[0]
    held: list[socket.socket] = []
    tolerated = 0
    try:
        for target in (8, 16, 32, 64, 128, 256, 512, 1000, 2000, 4000):
            if target > most:
                break
            while len(held) < target:
                s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
                if len(held) % 2:
                    s.send(b"GET /login HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            try:
                requests.request(method, url, headers=headers, timeout=2)
            except requests.RequestException:
                break
            tolerated = target
    finally:
        for s in held:
            s.close()
    return tolerated


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(run: Run) -> None:
    lat = run.latencies
    line = (
        f"{run.server:22} N={run.phones:<4} completed {run.completed}/{run.phones}  "
        f"probe p50 {pct(lat, 0.5) * 1000:.0f} ms p99 {pct(lat, 0.99) * 1000:.0f} ms "
        f"max {max(lat, default=float('nan')) * 1000:.0f} ms, unanswered {run.unanswered}  "
        f"CPU {run.cpu_s_per_gb:.1f} s/GB  peak PSS {run.peak_pss / MB:.0f} MB"
    )
    if run.withdrawal_s is not None or "ours" in run.server:
        w = "no answer" if run.withdrawal_s is None else f"{run.withdrawal_s:.2f} s"
        line += f"  withdrawal {w}"
    print(line, flush=True)
    for failure in sorted(set(run.failures))[:5]:
        print(f"    failure x{run.failures.count(failure)}: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phones", default="8,64,200")
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--mbit", type=float, default=1.0)
    parser.add_argument("--chunk-mib", type=int, default=5)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--max-idle", type=int, default=2000)
    parser.add_argument("--servers", default="peer,ours")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    counts = [int(n) for n in args.phones.split(",")]
    with tempfile.TemporaryDirectory(prefix="vig-load-") as tmp:
        work = Path(tmp)
        video = work / "video.webm"
        make_file(video, int(args.mb * MB))
        data = video.read_bytes()
        print(f"{len(counts)} loads, {args.mb:g} MB per phone at {args.mbit:g} Mbit/s in "
              f"{args.chunk_mib} MiB PATCHes, {args.idle} hostile connections; "
              f"{os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)  # fmt: skip
        peer_version = ""
        for n in counts:
            for kind in args.servers.split(","):
                if kind == "peer":
                    server: Server = Peer(work)
                    peer_version = peer_version or server.install()
                else:
                    server = OursUnderLoad(work, n)
                    server.prepare_phones(n)
                server.start()
                try:
                    report(load_run(server, n, data, args))
                finally:
                    server.stop()
                    server.clear()
        print(f"peer: {peer_version}")
        for kind in args.servers.split(","):
            server = Peer(work) if kind == "peer" else OursUnderLoad(work, 0)
            if isinstance(server, OursUnderLoad):
                server.prepare_phones(0)
            server.start()
            try:
                held = idle_tolerance(server, args.max_idle)
                print(f"{server.name:22} idle connections held with a probe under 2 s: {held}")
            finally:
                server.stop()


if __name__ == "__main__":
    main()

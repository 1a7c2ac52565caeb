"""tus upload throughput, memory and resume cost: our Flask endpoint against @tus/server.

One run, loopback only, the same files and the same client for every server:

- peer: @tus/server + @tus/file-store (Node), installed with npm into a temporary directory by
  this script. It writes to the page cache and never calls fsync.
- ours: ``vigparent:create_app`` behind a production WSGI server: ``gunicorn`` (one gevent
  worker with ``vigparent/gunicorn_config.py``, as ``vigparent.serve`` runs it; it streams
  request bodies to the app, which is what we deploy), and for comparison ``waitress`` (1 MiB
  in memory, 8 KiB reads) and
  ``waitress16`` (waitress keeping up to 16 MiB of body in memory, 1 MiB reads). waitress
  hands a request to the app only once the whole body has arrived, spilling it beyond
  ``inbuf_overflow`` to a temporary file (plaintext on disk!), and drops a partial body when
  the connection breaks. Every chunk goes
  through the real PATCH path: session cookie + CSRF header, consent check, per-upload lock,
  offset check, AES-256-GCM encryption, fsync before the 204, sha256 of the stored file at the
  end. No job consumer runs, so the queued inspect/transcode job does not compete for CPU.

Files are a real WebM header (so our magic-byte check passes, as a phone's recording would)
followed by random bytes, so nothing compresses. Random bytes are not a video: a consumer would
reject them later, which is irrelevant to upload speed. No "bench mode" exists in the app.

Client: one ``requests.Session`` (keep-alive) sending ``--chunk-mib`` PATCHes, the same for all
servers. Per file size: a fresh process for every server, then ``--runs`` rounds taking turns
server by server, so noise from the rest of the machine falls on all of them alike; in each
round a server gets a warm-up upload (discarded) and then the timed one (median reported; see
``run`` for why); after each upload its files are deleted and the disk is synced (``settle``).
Then one upload per server with ``--interruptions`` forced connection drops
mid-PATCH (HEAD, then resume) to measure bytes sent ÷ file size. The disk's own write + fsync
rate is printed before the run and again after each size, as it moves on a shared machine.
Peak memory is sampled every 20 ms over the whole server process tree, as RSS and as PSS (shared
pages split among the processes sharing them), with the largest process and the kernel's VmHWM.

    .venv/bin/python bench/upload.py [--sizes-mb 75,1024] [--servers gunicorn[,waitress,waitress16]]
        [--runs 5] [--chunk-mib 8] [--interruptions 20] [--work-dir /tmp]

``--servers gunicorn,gunicorn-s3`` adds the same server keeping its media in an S3 bucket
(``--s3-url``, or a moto server started here) and prints its throughput as a ratio of the
local-disk one.

Pass ``--work-dir /dev/shm`` to take the disk out of both sides (fsync is then free): that
shows how our code compares when durability costs nothing.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests
from repo_root import ROOT

MB = 1_000_000
MIB = 1 << 20
# waitress buffers each request body completely before the app sees it; above inbuf_overflow
# it spills to an (unlinked) temporary file. "waitress" keeps 1 MiB in memory (8 KiB recv);
# "waitress16" keeps up to 16 MiB in memory and receives 1 MiB at a time.
WAITRESS = {"waitress": (1 << 20, 8192), "waitress16": (16 << 20, 1 << 20)}

PEER_JS = """
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), "127.0.0.1", () => {
  console.log("ready");
});
"""


# -- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    name: str
    endpoint: str
    headers: dict[str, str]

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def cwd(self) -> Path:
        return ROOT

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env(),
            cwd=self.cwd(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.options(self.endpoint, timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def processes(self) -> list[psutil.Process]:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def stop(self) -> None:
        if self.proc is None:
            return
        for p in reversed(self.processes()):
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for p in self.processes():
                p.kill()
            self.proc.wait()
        self.proc = None

    def clear(self) -> None:
        """Remove the uploaded files, so a 1 GB run does not fill the disk."""


class Peer(Server):
    name = "peer (@tus/server)"

    def __init__(self, work: Path) -> None:
        super().__init__()
        self.dir = work / "peer"
        self.files = work / "peer-files"
        self.endpoint = f"http://127.0.0.1:{self.port}/files"
        self.headers = {}

    def install(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "package.json").write_text('{"name": "tus-peer", "private": true}')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
             "@tus/server@2", "@tus/file-store@2"],
            cwd=self.dir, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (self.dir / "peer.mjs").write_text(PEER_JS)
        versions = {}
        for pkg in ("server", "file-store"):
            meta = json.loads(
                (self.dir / "node_modules" / "@tus" / pkg / "package.json").read_text()
            )
            versions[pkg] = meta["version"]
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        server, store = versions["server"], versions["file-store"]
        return f"@tus/server {server}, @tus/file-store {store}, node {node}"

    def command(self) -> list[str]:
        self.files.mkdir(parents=True, exist_ok=True)
        return ["node", "peer.mjs", str(self.port), str(self.files)]

    def cwd(self) -> Path:
        return self.dir

    def clear(self) -> None:
        shutil.rmtree(self.files, ignore_errors=True)
        self.files.mkdir(parents=True, exist_ok=True)


class Ours(Server):
    """vigparent under a production WSGI server, on its own data dir."""

    def __init__(self, kind: str, work: Path, s3_url: str = "") -> None:
        super().__init__()
        # "<server>-s3": the same server with media in an S3 bucket (object_store).
        self.kind = kind.removesuffix("-s3")
        self.name = f"ours ({kind})"
        self.endpoint = f"http://127.0.0.1:{self.port}/api/uploads"
        self.data_dir = work / f"ours-{kind}"
        self._env = {
            **os.environ,
            "VIGPARENT_DATA_DIR": str(self.data_dir),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "VIGPARENT_MAX_UPLOAD_BYTES": str(4 << 30),
        }
        for name in ("DATABASE_URL", "HUEY_REDIS_URL", "VIGPARENT_ENV"):
            self._env.pop(name, None)
        if kind.endswith("-s3"):
            self._env.update(s3_bucket_env(s3_url))
        self.app = None

    def prepare(self) -> None:
        from tests.support.parent_session import create_consenting_family, sign_in
        from vigparent import create_app
        from vigparent.config import load_settings
        from vigparent.db import Base

        self.app = create_app(load_settings(self._env))
        with self.app.app_context():
            Base.metadata.create_all(self.app.extensions["vig_engine"])
        parent_id = create_consenting_family(self.app, quota_bytes=1 << 45)
        self.headers = sign_in(self.app, parent_id, "bench").headers

    def env(self) -> dict[str, str]:
        return self._env

    def command(self) -> list[str]:
        if self.kind in WAITRESS:
            inbuf, recv = WAITRESS[self.kind]
            return [
                sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{self.port}",
                "--threads=8", f"--inbuf-overflow={inbuf}", f"--recv-bytes={recv}",
                f"--max-request-body-size={(4 << 30) + (1 << 20)}", "--channel-timeout=300",
                "--call", "vigparent:create_app",
            ]  # fmt: skip
        from vigparent.serve import gunicorn_command

        return gunicorn_command(f"127.0.0.1:{self.port}")  # as make run serves it

    def clear(self) -> None:
        from sqlalchemy import select

        from vigparent import db
        from vigparent.models import Recording
        from vigparent.recordings import service as recordings

        assert self.app is not None
        with self.app.app_context():
            s = db.session()
            for rec in s.scalars(select(Recording)).all():
                recordings.delete_media(rec)
                s.delete(rec)
            s.commit()


# -- measuring -----------------------------------------------------------------------------


class RssSampler:
    """Peak memory of a server's whole process tree, sampled every 20 ms.

    RSS summed over a forked tree counts the pages the processes share (the interpreter, the
    libraries) once per process; PSS splits each shared page among its sharers, so its sum is
    the memory the server really holds. Both are reported, with the largest single process.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak = 0  # RSS of the whole tree (gunicorn: arbiter + worker)
        self.peak_pss = 0  # PSS of the whole tree
        self.largest = 0  # RSS of the biggest single process (gunicorn: the worker)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = total_pss = 0
            for p in self.server.processes():
                with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError):
                    rss, pss = _rss_pss(p.pid)
                    total += rss
                    total_pss += pss
                    self.largest = max(self.largest, rss)
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, total_pss)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def hwm(self) -> int:
        """The kernel's own peak RSS (VmHWM), summed over the process tree."""
        total = 0
        for p in self.server.processes():
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
        return total


def _rss_pss(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in bytes, from the kernel's smaps summary."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                fields[key] = int(value.split()[0]) * 1024
    return fields["Rss"], fields["Pss"]


def s3_bucket_env(s3_url: str) -> dict[str, str]:
    """A new bucket on ``s3_url`` and the settings that keep a server's media in it."""
    import boto3

    bucket, region = f"vig-bench-{secrets.token_hex(4)}", "eu-west-2"
    creds = {"aws_access_key_id": "vigbench", "aws_secret_access_key": "vigbench-secret"}
    boto3.client("s3", endpoint_url=s3_url, region_name=region, **creds).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
    )
    return {
        "VIGPARENT_S3_BUCKET": bucket,
        "VIGPARENT_S3_ENDPOINT_URL": s3_url,
        "VIGPARENT_S3_REGION": region,
        "VIGPARENT_S3_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "VIGPARENT_S3_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
    }


def metadata() -> str:
    pairs = {"client_id": str(uuid.uuid4()), "filetype": "video/webm"}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def tus_headers(server: Server, **extra: str) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", **server.headers, **extra}


def create(session: requests.Session, server: Server, size: int) -> str:
    r = session.post(
        server.endpoint,
        headers=tus_headers(server, **{"Upload-Length": str(size), "Upload-Metadata": metadata()}),
    )
    r.raise_for_status()
    location = r.headers["Location"]
    if location.startswith("/"):
        location = f"http://127.0.0.1:{server.port}{location}"
    return location


class Busy(Exception):
    """409/423: the server's offset moved on or it is still busy with this upload."""


def patch(session: requests.Session, server: Server, url: str, offset: int, data: bytes) -> int:
    r = session.patch(
        url,
        data=data,
        headers=tus_headers(
            server,
            **{"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)},
        ),
    )
    if r.status_code in (409, 423):
        raise Busy()
    if r.status_code != 204:
        raise RuntimeError(f"{server.name}: PATCH answered {r.status_code}: {r.text[:200]}")
    return int(r.headers["Upload-Offset"])


def head(session: requests.Session, server: Server, url: str) -> int:
    """The upload's offset, waiting while the server still holds it locked (423)."""
    while True:
        r = session.head(url, headers=tus_headers(server))
        if r.status_code != 423:
            r.raise_for_status()
            return int(r.headers["Upload-Offset"])
        time.sleep(0.05)


def upload(server: Server, path: Path, chunk: int) -> float:
    """Upload the whole file; return seconds from creation to the last 204."""
    size = path.stat().st_size
    with requests.Session() as session, open(path, "rb") as f:
        start = time.perf_counter()
        url = create(session, server, size)
        offset = 0
        while offset < size:
            data = f.read(chunk)
            offset = patch(session, server, url, offset, data)
        return time.perf_counter() - start


def upload_with_interruptions(server: Server, path: Path, chunk: int, count: int) -> float:
    """Upload with ``count`` connections dropped mid-PATCH; return body bytes sent ÷ size."""
    size = path.stat().st_size
    # Drop points spread over the file, each in the middle of some PATCH body.
    points = sorted({size * (i + 1) // (count + 1) for i in range(count)})
    sent = 0
    with requests.Session() as session, open(path, "rb") as f:
        url = create(session, server, size)
        offset = 0
        while offset < size:
            f.seek(offset)
            data = f.read(chunk)
            cut = next((p for p in points if offset < p < offset + len(data)), None)
            if cut is None:
                sent += len(data)
                try:
                    offset = patch(session, server, url, offset, data)
                except Busy:
                    # The server was still finishing the dropped PATCH: ask again (the bytes
                    # sent in vain count against us).
                    offset = _settled_offset(session, server, url)
                continue
            points.remove(cut)
            sent += _dropped_patch(server, url, offset, data[: cut - offset], len(data))
            offset = _settled_offset(session, server, url)
    return sent / size


def _dropped_patch(server: Server, url: str, offset: int, partial: bytes, length: int) -> int:
    """Send a PATCH announcing ``length`` bytes, send ``partial`` of them, drop the line."""
    parts = urlsplit(url)
    headers = tus_headers(
        server,
        **{
            "Host": f"127.0.0.1:{server.port}",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(length),
        },
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head_lines = f"PATCH {parts.path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # (A server may answer early, e.g. 423, and close; the bytes still count.)
            sock.sendall(head_lines.encode() + b"\r\n")
            sock.sendall(partial)
    return len(partial)


def _settled_offset(session: requests.Session, server: Server, url: str) -> int:
    """HEAD until the server has finished with the dropped PATCH (two equal answers)."""
    last = -1
    while True:
        time.sleep(0.05)
        offset = head(session, server, url)
        if offset == last:
            return offset
        last = offset


def make_file(path: Path, size: int) -> None:
    """A real WebM header (so magic-byte checks pass) followed by random bytes."""
    from tests.support.videos import make_video

    buf = io.BytesIO()
    make_video(buf, container="webm", seconds=1.0)
    header = buf.getvalue()[:4096]
    with open(path, "wb") as f:
        f.write(header)
        left = size - len(header)
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n


def disk_sync_rate(directory: Path, chunk: int, total: int = 256 * MIB) -> float:
    """MB/s of write + fsync per chunk in ``directory``: the ceiling for durable uploads."""
    path = directory / "sync-probe"
    block = os.urandom(chunk)
    count = max(total // chunk, 1)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(count):
            os.write(fd, block)
            os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink()
    return count * chunk / MB / (time.perf_counter() - start)


@dataclass
class Result:
    server: str
    size: int
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss: int = 0
    peak_pss: int = 0
    largest_rss: int = 0
    hwm: int = 0
    amplification: float = 0.0

    @property
    def cpu_s_per_gb(self) -> float:
        """Server CPU seconds per GB: the cost of the code, whatever else the machine runs."""
        return statistics.median(self.cpu) / (self.size / 1e9)

    @property
    def mbps(self) -> float:
        return self.size / MB / statistics.median(self.seconds)


def server_cpu(server: Server) -> float:
    total = 0.0
    for p in server.processes():
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def settle(server: Server) -> None:
    """Delete what ``server`` stored, and let the disk finish with it before anyone goes on.

    The peer never calls fsync, so the kernel may still be writing its upload back (or
    committing the deletion) when the next upload starts; without the sync that one would
    pay for the peer's durability in its own fsyncs.
    """
    server.clear()
    os.sync()


def run(servers: list[Server], path: Path, args: argparse.Namespace) -> list[Result]:
    """Upload ``path`` to every server, in rounds that take turns (the order flipping every
    round), so whatever else the machine is doing at a given moment weighs on every server
    alike. In each round a server gets two uploads back to back and only the second is timed:
    the first is its warm-up, and the timed one then finds the machine as that same server
    leaves it, not as the other one did. (On this VM that matters: the peer leaves its whole
    upload in the page cache, and once freed those pages go back to the host, so whoever
    writes next pays to fault them in again: measured at +20-40% time for our server.)"""
    chunk = args.chunk_mib * MIB
    size = path.stat().st_size
    results = {server.name: Result(server.name, size) for server in servers}
    samplers: dict[str, RssSampler] = {}
    try:
        for server in servers:
            server.start()
            samplers[server.name] = RssSampler(server).__enter__()
        for round_ in range(args.runs):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                upload(server, path, chunk)  # warm-up, discarded
                settle(server)
                result = results[server.name]
                before = server_cpu(server)
                result.seconds.append(upload(server, path, chunk))
                result.cpu.append(server_cpu(server) - before)
                settle(server)
        for server in servers:
            result = results[server.name]
            result.amplification = upload_with_interruptions(
                server, path, chunk, args.interruptions
            )
            server.clear()
            result.hwm = samplers[server.name].hwm()
    finally:
        for server in servers:
            sampler = samplers.get(server.name)
            if sampler is not None:
                sampler.__exit__(None, None, None)
                results[server.name].peak_rss = sampler.peak
                results[server.name].peak_pss = sampler.peak_pss
                results[server.name].largest_rss = sampler.largest
            server.stop()
    return [results[server.name] for server in servers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", default="75,1024")
    parser.add_argument("--servers", default="gunicorn")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--interruptions", type=int, default=20)
    parser.add_argument("--work-dir", default=None, help="where files and both stores live")
    parser.add_argument(
        "--s3-url", default="", help="S3 endpoint for *-s3 servers (default: start moto)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vig-bench-", dir=args.work_dir))
    s3_server = None
    try:
        kinds = [kind for kind in args.servers.split(",") if kind]
        s3_url = args.s3_url
        if any(k.endswith("-s3") for k in kinds) and not s3_url:
            from tests.support.servers import start_s3

            s3_server = start_s3()
            s3_url = s3_server.url
        peer = Peer(work)
        print(f"peer: {peer.install()}")
        ours = [Ours(kind, work, s3_url) for kind in kinds]
        for server in ours:
            server.prepare()
        print(
            f"disk: write + fsync every {args.chunk_mib} MiB in {work}: "
            f"{disk_sync_rate(work, args.chunk_mib * MIB):.0f} MB/s (ceiling for durable uploads)"
        )
        load = os.getloadavg()[0]
        print(f"load average before the run: {load:.1f} (other work on the machine skews MB/s)")
        print(
            f"client: requests.Session, {args.chunk_mib} MiB PATCHes, {args.runs} rounds of a "
            f"warm-up then a timed upload per server, {args.interruptions} dropped connections; "
            f"{psutil.cpu_count()} CPUs shared by client and server"
        )
        results: list[Result] = []
        for size_mb in (int(s) for s in args.sizes_mb.split(",")):
            path = work / f"upload-{size_mb}MB.bin"
            make_file(path, size_mb * MB)
            for r in run([peer, *ours], path, args):
                results.append(r)
                print(
                    f"  {size_mb:>5} MB  {r.server:<20} {r.mbps:7.0f} MB/s  "
                    f"runs {', '.join(f'{s:.2f}s' for s in r.seconds)}  "
                    f"CPU {r.cpu_s_per_gb:.2f} s/GB  "
                    f"peak RSS {r.peak_rss / MB:6.1f} MB, PSS {r.peak_pss / MB:6.1f} MB "
                    f"(largest process RSS {r.largest_rss / MB:.1f}, VmHWM {r.hwm / MB:.1f})  "
                    f"sent/size {r.amplification:.4f}",
                    flush=True,
                )
            path.unlink()
            # The disk's speed moves over minutes on a shared machine: measure it again at this
            # size, so a ratio below 1 can be read against what durability allowed just now.
            disk = disk_sync_rate(work, args.chunk_mib * MIB, size_mb * MB)
            print(
                f"  {size_mb:>5} MB  disk alone: write + fsync every {args.chunk_mib} MiB after "
                f"these rounds: {disk:.0f} MB/s",
                flush=True,
            )
        print()
        print(f"{'size':>8}  {'server':<20} {'MB/s':>7} {'ours/peer':>9} {'CPU s/GB':>8} "
              f"{'peak RSS MB':>11} {'PSS MB':>7} {'(1 process)':>11} "
              f"{'sent/size':>9}")  # fmt: skip
        for r in results:
            peer_result = next(p for p in results if p.size == r.size and p.server == peer.name)
            ratio = r.mbps / peer_result.mbps
            print(
                f"{r.size // MB:>6}MB  {r.server:<20} {r.mbps:7.0f} {ratio:9.2f} "
                f"{r.cpu_s_per_gb:8.2f} {r.peak_rss / MB:11.1f} {r.peak_pss / MB:7.1f} "
                f"{r.largest_rss / MB:11.1f} "
                f"{r.amplification:9.4f}"
            )
        for r in results:
            if r.server.endswith("-s3)"):
                local_name = r.server.replace("-s3)", ")")
                local = next(
                    (p for p in results if p.size == r.size and p.server == local_name), None
                )
                if local is not None:
                    print(
                        f"{r.size // MB:>6}MB  S3 / local disk ({local_name}): "
                        f"{r.mbps / local.mbps:.2f} of the throughput"
                    )
    finally:
        if s3_server is not None:
            s3_server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

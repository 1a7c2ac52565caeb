"""deploy/nginx-vigparent.conf, run by Debian's real nginx in front of the app under gunicorn
(issue 14 §6): a tus upload through it arrives byte-identical, the video comes back out
through it, and neither direction leaves plaintext in nginx's temp files.

nginx deletes a temp file once the request is over, so "nothing on disk" is checked three
ways: its error log (nginx warns each time it buffers a body to a temporary file), the temp
dirs (empty), and their contents (no slice of the video). A control run of the same file with
request buffering switched back on shows the check does catch spooling. Responses cannot
spool at all: `proxy_max_temp_file_size 0` forbids the temp file outright.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import ipaddress
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tusclient import client as tus_client

from tests.support.servers import free_ports
from tests.uploads.conftest import Deployment, ServerProcess
from tests.uploads.conftest import _video as make_test_video

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONF = ROOT / "deploy" / "nginx-vigparent.conf"
NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
SPOOL_WARNING = "buffered to a temporary file"
# The upstream is started like vigparent/serve.py starts it; ServerProcess holds the one
# gunicorn command line (worker class included) that these tests share.
UPSTREAM_KIND = "gunicorn"

# Loopback only, with a certificate made for this test: nothing to verify it against.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

if not NGINX.exists():
    if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail("nginx is not installed (apt-get install nginx-light)", pytrace=False)
    pytest.skip("nginx is not installed (apt-get install nginx-light)", allow_module_level=True)


def _self_signed(dir: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = dir / "cert.pem", dir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy config changed: expected one {old!r}"
    return text.replace(old, new)


class Nginx:
    """Debian's nginx running deploy/nginx-vigparent.conf with test ports, cert and paths."""

    def __init__(self, work: Path, upstream_port: int, *, spool: bool = False) -> None:
        self.work = work
        # Two ports chosen together: the same one twice would put the plain-HTTP server on
        # the TLS port, and nginx then refuses the config.
        self.port, redirect_port = free_ports(2)
        self.url = f"https://127.0.0.1:{self.port}"
        work.mkdir(parents=True, exist_ok=True)
        cert, key = _self_signed(work)
        self.cert = str(cert)
        site = DEPLOY_CONF.read_text()
        site = _replace_once(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        site = _replace_once(site, "listen 80;", f"listen 127.0.0.1:{redirect_port};")
        site = _replace_once(
            site, "listen 443 ssl http2;", f"listen 127.0.0.1:{self.port} ssl http2;"
        )
        site = _replace_once(site, "/etc/letsencrypt/live/vig.example.org/fullchain.pem", str(cert))
        site = _replace_once(site, "/etc/letsencrypt/live/vig.example.org/privkey.pem", str(key))
        site = _replace_once(site, "/var/log/nginx/vigparent.access.log", str(work / "access.log"))
        if spool:
            # The control: nginx's defaults, which spool bodies to temp files.
            site = _replace_once(
                site, "proxy_request_buffering off;", "proxy_request_buffering on;"
            )
            site = _replace_once(site, "proxy_max_temp_file_size 0;", "")
        (work / "vigparent.conf").write_text(site)
        temp = "\n".join(f"    {name}_temp_path {work / name};" for name in TEMP_DIRS)
        user = "user root;" if os.geteuid() == 0 else ""
        (work / "nginx.conf").write_text(
            f"""{user}
worker_processes 1;
daemon off;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
{temp}
    access_log off;
    include {work / "vigparent.conf"};
}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        self.proc = subprocess.Popen(
            [str(NGINX), "-p", str(self.work), "-c", str(self.work / "nginx.conf"),
             "-e", str(self.work / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx did not start: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def error_log(self) -> str:
        path = self.work / "error.log"
        return path.read_text() if path.exists() else ""

    def temp_files(self) -> list[Path]:
        return [p for d in TEMP_DIRS for p in (self.work / d).rglob("*") if p.is_file()]


def holds_plaintext(files: list[Path], video: bytes) -> list[str]:
    slices = [video[i : i + 4096] for i in range(0, len(video) - 4096, 4096)]
    found = []
    for path in files:
        content = path.read_bytes()
        if any(s in content for s in slices):
            found.append(str(path))
    return found


@pytest.fixture(scope="module")
def video() -> bytes:
    # About 220 KB: several times nginx's request body buffer (64 KiB).
    data = make_test_video("webm", 6.0, (854, 480), fps=30)
    assert len(data) > 3 * 64 * 1024
    return data


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[Deployment, ServerProcess]]:
    deployment = Deployment(tmp_path / "data")
    deployment.env["TRUSTED_PROXIES"] = "1"
    server = ServerProcess(UPSTREAM_KIND, deployment.env).start()
    try:
        yield deployment, server
    finally:
        server.stop()


def send_through(nginx: Nginx, deployment: Deployment, video: bytes) -> tuple[str, bytes]:
    """Upload with tuspy through nginx, then stream the recording back out through it."""
    client = tus_client.TusClient(f"{nginx.url}/api/uploads", headers=deployment.signed.headers)
    uploader = client.uploader(
        file_stream=io.BytesIO(video),
        chunk_size=len(video),  # one PATCH carrying the whole file: well past every buffer
        metadata={"client_id": str(uuid.uuid4()), "filetype": "video/webm"},
        retries=0,
        verify_tls_cert=False,
    )
    uploader.upload()
    recording = deployment.recording()
    r = requests.get(
        f"{nginx.url}/media/recordings/{recording.id}",
        headers={"Cookie": deployment.signed.headers["Cookie"]},
        verify=nginx.cert,
        timeout=30,
    )
    assert r.status_code == 200, r.status_code
    return hashlib.sha256(deployment.stored(recording)).hexdigest(), r.content


def test_upload_through_nginx_arrives_whole_and_leaves_no_plaintext(
    tmp_path: Path, upstream: tuple[Deployment, ServerProcess], video: bytes
):
    deployment, server = upstream
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        stored_sha, streamed = send_through(nginx, deployment, video)
    finally:
        nginx.stop()
    assert stored_sha == hashlib.sha256(video).hexdigest()  # byte-identical at rest
    assert streamed == video  # and back out through nginx
    assert SPOOL_WARNING not in nginx.error_log()
    assert nginx.temp_files() == []
    everything = [p for p in (tmp_path / "nginx").rglob("*") if p.is_file()]
    assert holds_plaintext(everything, video) == []
    # The access log names the request without its query.
    log = (tmp_path / "nginx" / "access.log").read_text()
    assert "PATCH /api/uploads/" in log and "?" not in log


def test_the_check_catches_nginx_spooling_bodies(
    tmp_path: Path, upstream: tuple[Deployment, ServerProcess], video: bytes
):
    deployment, server = upstream
    nginx = Nginx(tmp_path / "nginx", server.port, spool=True).start()
    try:
        send_through(nginx, deployment, video)
    finally:
        nginx.stop()
    assert "a client request body is buffered to a temporary file" in nginx.error_log()


def test_invitation_links_stay_out_of_the_access_log(
    tmp_path: Path, upstream: tuple[Deployment, ServerProcess]
):
    _deployment, server = upstream
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        r = requests.get(f"{nginx.url}/join/secret-link-token?x=1", verify=nginx.cert, timeout=10)
        assert r.status_code == 404
    finally:
        nginx.stop()
    log = (tmp_path / "nginx" / "access.log").read_text()
    assert "/join/[link]" in log and "secret-link-token" not in log


def _raw_request(nginx: Nginx, method: str, path: str, headers: dict[str, str]) -> int:
    """Send only the request's headers (a body announced, none sent) and read the status."""
    import http.client
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # loopback, a certificate made for this test
    conn = http.client.HTTPSConnection("127.0.0.1", nginx.port, context=context, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_bodies_over_nginxs_limits_are_refused_before_the_app_sees_them(
    tmp_path: Path, upstream: tuple[Deployment, ServerProcess]
):
    """A tus PATCH may carry up to 16 MiB (the phone sends 5 MiB), anything else 1 MiB."""
    deployment, server = upstream
    nginx = Nginx(tmp_path / "nginx", server.port).start()
    try:
        session = requests.Session()
        tus = {**deployment.signed.headers, "Tus-Resumable": "1.0.0"}
        created = session.post(
            f"{nginx.url}/api/uploads",
            headers={
                **tus,
                "Upload-Length": str(20 * 1024 * 1024),
                "Upload-Metadata": "filetype dmlkZW8vd2VibQ==,client_id "
                + base64.b64encode(str(uuid.uuid4()).encode()).decode(),
            },
            timeout=10,
            verify=False,  # loopback, a certificate made for this test
        )
        assert created.status_code == 201, created.text
        path = "/api/uploads/" + created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        patch = {
            **tus,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(16 * 1024 * 1024 + 1),
        }
        assert _raw_request(nginx, "PATCH", path, patch) == 413
        head = session.head(f"{nginx.url}{path}", headers=tus, timeout=10, verify=False)
        assert head.headers["Upload-Offset"] == "0"  # nothing reached the app
        form = {**deployment.signed.headers, "Content-Type": "application/x-www-form-urlencoded"}
        form["Content-Length"] = str(1024 * 1024 + 1)
        assert _raw_request(nginx, "POST", "/goals/", form) == 413
    finally:
        nginx.stop()
    assert nginx.temp_files() == []

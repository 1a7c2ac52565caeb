"""What a production install gets: the production lock only, and a wheel that serves its
pages without node_modules (its page bundles are built into it by `make assets`)."""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = {"pytest", "pytest-xdist", "playwright", "mypy", "ruff", "hypothesis", "selenium"}
TEST_ONLY = {"waitress", "tuspy", "psutil", "textstat"}


def pins(lock: str) -> tuple[dict[str, str], list[str]]:
    """The pinned packages of a lock file, and the other files it includes with -r."""
    found: dict[str, str] = {}
    includes = []
    for line in (ROOT / lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            includes.append(line[3:].strip())
        elif line:
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found, includes


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requires(name: str, extras: set[str]) -> list[Requirement]:
    """What an installed package needs (its requirements whose markers hold here)."""
    out = []
    for spec in metadata.requires(name) or []:
        req = Requirement(spec)
        if req.marker is None or any(
            req.marker.evaluate({"extra": e}) for e in (extras or {""}) | {""}
        ):
            out.append(req)
    return out


def test_production_lock_has_no_dev_tools_and_holds_all_it_needs() -> None:
    prod, includes = pins("requirements.lock")
    assert includes == []
    assert not (DEV_TOOLS | TEST_ONLY | {"psycopg", "psycopg-binary"}) & set(prod)
    # Closed: every requirement of every pinned package is pinned too, at a version it accepts.
    todo = [Requirement(r) for r in _project()["dependencies"]]
    assert all(canonicalize_name(r.name) != "vigparent" for r in todo)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        assert name in prod, f"{req} is needed in production but not in requirements.lock"
        assert req.specifier.contains(prod[name], prereleases=True), (req, prod[name])
        if (name, tuple(sorted(req.extras))) not in seen:
            seen.add((name, tuple(sorted(req.extras))))
            todo += _requires(req.name, set(req.extras))
    # ...and nothing more.
    assert {name for name, _extras in seen} == set(prod)


def test_dev_lock_is_production_plus_the_tools() -> None:
    prod, _ = pins("requirements.lock")
    dev, includes = pins("requirements-dev.lock")
    assert includes == ["requirements.lock"]
    assert not set(dev) & set(prod), "a pin is in both lock files"
    assert DEV_TOOLS | TEST_ONLY | {"psycopg", "psycopg-binary"} <= set(dev)
    both = {**prod, **dev}
    for extra in ("dev", "postgres"):
        for spec in _project()["optional-dependencies"][extra]:
            req = Requirement(spec)
            if canonicalize_name(req.name) != "vigparent":
                assert req.specifier.contains(both[canonicalize_name(req.name)]), req
    # What is installed here (make install) is what the two locks pin.
    for name, version in both.items():
        assert metadata.version(name) == version, name


def _copy_source(dest: Path) -> Path:
    """The package's sources without any built bundles, as a fresh clone has them."""
    shutil.copytree(
        ROOT / "vigparent",
        dest / "vigparent",
        ignore=shutil.ignore_patterns("gen", "__pycache__", ".webassets-cache"),
    )
    shutil.copy(ROOT / "pyproject.toml", dest)
    return dest


_SERVE_PAGES = """
import re, sys
import vigparent
from vigparent import create_app
from vigparent.config import ConfigError
assert vigparent.__file__.startswith(sys.argv[1]), vigparent.__file__
try:
    app = create_app()
except ConfigError as e:
    print("ConfigError:", e)
    raise SystemExit(3)
client = app.test_client()
page = client.get("/login")
assert page.status_code == 200, page.status_code
urls = re.findall(r'(?:href|src)="(/static/gen/[^"]+)"', page.get_data(as_text=True))
assert len(urls) >= 2, urls
for url in urls:
    r = client.get(url)
    assert r.status_code == 200 and len(r.data) > 100, (url, r.status_code)
print("served", " ".join(urls))
"""


def _serve_pages(site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGPARENT_", "SECRET"))},
        "PYTHONPATH": str(site),
        "VIGPARENT_ENV": "production",
        "VIGPARENT_BASE_URL": "https://vig.example.org",
        "VIGPARENT_DATA_DIR": str(cwd / "data"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "VIGPARENT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    return subprocess.run(
        [sys.executable, "-c", _SERVE_PAGES, str(site)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_wheel_serves_its_pages_without_node_modules(tmp_path: Path) -> None:
    source = _copy_source(tmp_path / "src")
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    # Without its bundles built, the app says what to do at start-up, not on a page view.
    refused = _serve_pages(source, run_dir)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "make assets" in refused.stdout

    # make assets: built from node_modules, which the wheel then does without.
    (source / "node_modules").symlink_to(ROOT / "node_modules")
    build = [sys.executable, "-m", "vigparent.build_assets"]
    env = {**os.environ, "PYTHONPATH": str(source)}
    subprocess.run(build, cwd=source, env=env, check=True, timeout=300, capture_output=True)
    (source / "node_modules").unlink()
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    (wheel,) = wheels.glob("vigparent-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    assert not (site / "node_modules").exists()
    assert (site / "vigparent" / "static" / "gen" / ".manifest").is_file()

    served = _serve_pages(site, run_dir)
    assert served.returncode == 0, served.stdout + served.stderr
    assert re.search(r"served /static/gen/app\.\w+\.css", served.stdout), served.stdout

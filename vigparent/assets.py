"""webassets bundles with fingerprinted URLs. No inline script anywhere (strict CSP).

Bundles are built from static/ and node_modules/ into static/gen/ by `make assets` (which runs
`python -m vigparent.build_assets`) before a wheel is built, so an installed app serves them
without node_modules. Only a source checkout with node_modules rebuilds them as files change
(development).
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, send_from_directory
from markupsafe import Markup, escape
from webassets import Bundle, Environment
from webassets.exceptions import BundleError
from webassets.filter import Filter

from vigparent.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
STATIC = Path(__file__).resolve().parent / "static"
OUR_SCRIPTS = STATIC / "js"
BUILD_COMMAND = "make assets"


def strip_comment_lines(source: str) -> str:
    """Drop the lines of a script that are only comment; every line with code stays as it is.

    Our scripts explain themselves at length (the why, for the next engineer) and a parent pays
    for every byte, so the phone gets the code without them. Only whole lines go, so a string
    or a regular expression that looks like a comment is never touched: no line of our scripts
    starts inside a string (they have no multi-line strings; tests/test_assets_strip.py).
    """
    kept: list[str] = []
    in_comment = False
    for line in source.splitlines(keepends=True):
        text = line.strip()
        if in_comment:
            if "*/" in text:
                in_comment = False
                rest = text.split("*/", 1)[1].strip()
                if rest:
                    kept.append(rest + "\n")
            continue
        if text.startswith("//"):
            continue
        if text.startswith("/*"):
            end = text.find("*/", 2)
            if end == -1:
                in_comment = True
                continue
            if not text[end + 2 :].strip():
                continue
        kept.append(line)
    return "".join(kept)


class StripCommentLines(Filter):
    """webassets filter: strip_comment_lines for our own scripts, never for node_modules."""

    name = "vig_strip_comment_lines"  # type: ignore[assignment]  # webassets types it None

    def input(self, _in: Any, out: Any, **kw: Any) -> None:
        source = _in.read()
        path = Path(kw.get("source_path") or "").resolve()
        out.write(strip_comment_lines(source) if path.parent == OUR_SCRIPTS else source)


# Each page loads one stylesheet and a few script bundles. Our own scripts are small classic
# scripts that share one `window.vig` namespace, so order matters, and it is declared: a
# bundle's files are concatenated in the order given, a bundle may use what the bundles in its
# `after` define (templates/base.html loads common_js first, then on a parent's pages
# capture_js, then the page's own), and each script's header names what it needs
# (`@requires`). tests/test_script_order.py checks all three against each other.
BUNDLES: dict[str, Bundle] = {
    # Each feature keeps its styles in static/css/features/<feature>.css.
    "css": Bundle("css/app.css", "css/features/*.css", output="gen/app.%(version)s.css"),
    "common_js": Bundle(
        "js/common.js", output="gen/common.%(version)s.js", filters=StripCommentLines()
    ),
}
LOADED_AFTER: dict[str, tuple[str, ...]] = {"css": (), "common_js": ()}


def register(
    name: str, *sources: str, after: tuple[str, ...] = ("common_js",), filters: str | None = None
) -> None:
    """Add a bundle; sources are paths under static/ or node_modules/, in load order.

    ``after``: the bundles every page that loads this one has loaded before it.
    """
    ext = "css" if name.endswith("css") else "js"
    chain: list[Any] = [StripCommentLines()] if ext == "js" else []
    chain += [filters] if filters else []
    BUNDLES[name] = Bundle(*sources, output=f"gen/{name}.%(version)s.{ext}", filters=chain)
    LOADED_AFTER[name] = after


# Text bundles are also stored gzipped (level 9, once, at build time) and sent as such to every
# browser that accepts gzip: a phone on a data plan downloads a quarter of the bytes.
COMPRESSIBLE = (".js", ".css")
YEAR = 31536000


def gzip_path(path: Path) -> Path:
    return path.with_name(path.name + ".gz")


def precompress(path: Path) -> Path:
    """Write ``path``.gz next to ``path`` unless an up-to-date one exists; return its path.

    Written to a temporary file and renamed, so a reader never sees a half-written file.
    """
    target = gzip_path(path)
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gz-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return target


def precompress_all(static_folder: str) -> int:
    """Gzip every built bundle (``vig assets`` runs this at deploy time); return how many."""
    gen = Path(static_folder) / "gen"
    files = [p for p in gen.iterdir() if p.suffix in COMPRESSIBLE] if gen.is_dir() else []
    for path in files:
        precompress(path)
    return len(files)


def bundle_url(name: str) -> str:
    """The fingerprinted URL of a one-file bundle (for scripts that fetch it themselves)."""
    env: Environment = current_app.extensions["vig_assets"]
    urls: list[str] = env[name].urls()
    return urls[0]


def build_all(env: Environment, static_folder: str) -> int:
    """Build every bundle, and its gzipped copy; return how many files were gzipped."""
    for bundle in env:
        bundle.build()
    return precompress_all(static_folder)


def check_built(env: Environment, static_folder: str) -> None:
    """Refuse to start without every bundle built: a page would fail on its first view."""
    static = Path(static_folder)
    for name in BUNDLES:
        try:
            urls: list[str] = env[name].urls()
        except BundleError:
            urls = []
        built = [static / u.removeprefix("/static/") for u in urls]
        if not built or not all(p.is_file() for p in built):
            raise ConfigError(
                f"The page bundles are not built (no {name} bundle in {static / 'gen'}). "
                f"Run `{BUILD_COMMAND}` in the source checkout (it needs node_modules from "
                "`npm ci`) before building the wheel or starting the app."
            )


def build_environment(static_folder: str, auto_build: bool = True) -> Environment:
    env = Environment(directory=static_folder, url="/static")
    env.versions = "hash"
    env.manifest = "file:" + str(Path(static_folder) / "gen" / ".manifest")
    env.url_expire = False
    env.cache = False
    env.debug = False
    # Production builds once at deploy time (`vig assets`); development rebuilds on change.
    env.auto_build = auto_build
    env.append_path(static_folder, "/static")
    env.append_path(str(NODE_MODULES), "/node_modules-unserved")
    for name, bundle in BUNDLES.items():
        env.register(name, bundle)
    return env


def init_app(app: Flask) -> None:
    assert app.static_folder is not None
    # Development rebuilds bundles as their files change, where their sources are all here.
    auto_build = not app.extensions["vig_settings"].production and NODE_MODULES.is_dir()
    env = build_environment(app.static_folder, auto_build=auto_build)
    if not auto_build:
        check_built(env, app.static_folder)
    app.extensions["vig_assets"] = env

    def asset_urls(name: str) -> list[str]:
        urls: list[str] = env[name].urls()
        return urls

    def script(name: str) -> Markup:
        return Markup("\n").join(
            Markup('<script src="{}" defer></script>').format(escape(u)) for u in asset_urls(name)
        )

    def stylesheet(name: str = "css") -> Markup:
        return Markup("\n").join(
            Markup('<link rel="stylesheet" href="{}">').format(escape(u)) for u in asset_urls(name)
        )

    app.jinja_env.globals.update(asset_urls=asset_urls, script=script, stylesheet=stylesheet)
    gen = (Path(app.static_folder) / "gen").resolve()

    def static_file(filename: str) -> Response:
        """Flask's static view, but a bundle goes gzipped to a browser that accepts it.

        It stays the "static" endpoint, so every rule about static files still applies.
        """
        source = (Path(app.static_folder or "") / filename).resolve()
        if (
            source.parent != gen
            or source.suffix not in COMPRESSIBLE
            or not source.is_file()
            or not request.accept_encodings["gzip"]
        ):
            response = app.send_static_file(filename)
        else:
            # Built by `vig assets` in production; made on first use where bundles auto-build.
            packed = precompress(source)
            response = send_from_directory(
                gen,
                packed.name,
                max_age=YEAR,
                mimetype="text/css" if source.suffix == ".css" else "text/javascript",
            )
            response.headers["Content-Encoding"] = "gzip"
        if source.parent == gen:
            response.vary.add("Accept-Encoding")
        return response

    app.view_functions["static"] = static_file

    @app.after_request
    def _long_cache_for_fingerprinted(response: Response) -> Response:

        if request.path.startswith("/static/gen/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

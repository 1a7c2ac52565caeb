"""webassets bundles with fingerprinted URLs. No inline script anywhere (strict CSP)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from markupsafe import Markup, escape
from webassets import Bundle, Environment

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"

# Each page loads one stylesheet and at most one script bundle. Our own scripts are small
# classic scripts that share one `window.vig` namespace, so plain concatenation is enough.
BUNDLES: dict[str, Bundle] = {
    # Each feature keeps its styles in static/css/features/<feature>.css.
    "css": Bundle("css/app.css", "css/features/*.css", output="gen/app.%(version)s.css"),
    "common_js": Bundle("js/common.js", output="gen/common.%(version)s.js"),
}


def register(name: str, *sources: str, filters: str | None = None) -> None:
    """Add a bundle; sources are paths under static/ or node_modules/."""
    ext = "css" if name.endswith("css") else "js"
    BUNDLES[name] = Bundle(*sources, output=f"gen/{name}.%(version)s.{ext}", filters=filters)


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
    env = build_environment(
        app.static_folder, auto_build=not app.extensions["vig_settings"].production
    )
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

    @app.after_request
    def _long_cache_for_fingerprinted(response: Response) -> Response:

        if request.path.startswith("/static/gen/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

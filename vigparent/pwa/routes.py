"""Installable app: the web app manifest, service worker and offline page."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any, cast

from flask import (
    Blueprint,
    Response,
    after_this_request,
    current_app,
    get_flashed_messages,
    jsonify,
    render_template,
    request,
    url_for,
)

from vigparent import i18n
from vigparent.security import public

bp = Blueprint("pwa", __name__)

THEME_COLOUR = "#1d5c63"
# Set on a page that shows a one-time notice; sw.js never saves such a page for offline use.
ONCE_HEADER = "X-Vig-Once"


@bp.app_template_global()
def notices() -> list[tuple[str, str]]:
    """The one-time notices ("We deleted that video") for the page a person opened.

    The service worker fetches the shell pages in the background while it installs. Those
    fetches must not take a notice meant for the page the person is about to see, nor save it
    into the offline copy: only a navigation (or a browser that does not say) takes it.
    """
    if request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate":
        return []
    # with_categories=True: (category, message) pairs (Flask's stub types both forms).
    messages = cast(list[tuple[str, str]], get_flashed_messages(with_categories=True))
    if messages:
        after_this_request(_mark_once)
    return messages


def _mark_once(response: Response) -> Response:
    response.headers[ONCE_HEADER] = "1"
    return response


@bp.get("/manifest.webmanifest")
@public
def manifest() -> Any:
    response = jsonify(
        {
            "name": "vigparent — Video Interaction Guidance",
            "short_name": "VIG",
            "start_url": url_for("auth.index"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#fbf8f3",
            "theme_color": THEME_COLOUR,
            "icons": [
                {
                    "src": url_for("static", filename=f"icons/icon-{size}.png"),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": purpose,
                }
                for size in (192, 512)
                for purpose in ("any", "maskable")
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
@public
def offline() -> Any:
    return render_template("pwa/offline.html")


# Bundles every parent page loads (base.html + templates/capture/_parent_head.html).
# withdrawal_js: a withdrawal tapped offline is queued and sent from whatever page is open.
# record_js, install_js, push_js and live_invite_js: the shell pages that use them must work
# offline too.
SHELL_BUNDLES = (
    "css",
    "common_js",
    "capture_js",
    "withdrawal_js",
    "record_js",
    "install_js",
    "push_js",
    "live_invite_js",
)
# The parent's pages that must open with no signal. Other pages fall back to /offline.
# consent.privacy holds the withdrawal button, which must work offline too (DESIGN.md §7).
SHELL_PAGES = (
    "parent.home",
    "capture.record",
    "capture.pending",
    "consent.privacy",
    "pwa.offline",
)


def service_worker_config() -> dict[str, Any]:
    """What the service worker precaches; its version changes whenever a bundle's hash does."""
    bundles = current_app.extensions["vig_assets"]
    assets: list[str] = [url for name in SHELL_BUNDLES for url in bundles[name].urls()]
    assets += [url_for("static", filename=f"icons/icon-{size}.png") for size in (192, 512)]
    pages = [url_for(e) for e in SHELL_PAGES if e in current_app.view_functions]
    return {
        "assets": assets,
        "pages": pages,
        "home": url_for("parent.home"),
        "start": url_for("auth.index"),
        "signIn": url_for("auth.login"),
        "offline": url_for("pwa.offline"),
        # Never answered from a cache: uploads, status and media are always live.
        "passThrough": ["/api/", "/media/"],
        "onceHeader": ONCE_HEADER,
        # The family's language, from the worker's URL (capture_config): a new language is a
        # new worker, which saves the shell pages again in it (offline pages speak it too).
        "language": i18n.language_or_english(request.args.get("lang")),
    }


@bp.get("/sw.js")
@public
def service_worker() -> Any:
    """The service worker, with its precache list injected (it must live at / for scope /)."""
    assert current_app.static_folder is not None
    source = (Path(current_app.static_folder) / "js" / "sw.js").read_text(encoding="utf-8")
    config = service_worker_config()
    payload = json.dumps(config, sort_keys=True)
    config["version"] = hashlib.sha256((payload + source).encode()).hexdigest()[:16]
    body = f"self.VIG_SW = {json.dumps(config, sort_keys=True)};\n{source}".encode()
    # No personal data in it (bundle URLs and page paths), so it may go compressed.
    gzipped = bool(request.accept_encodings["gzip"])
    response = Response(
        gzip.compress(body, mtime=0) if gzipped else body, mimetype="text/javascript"
    )
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    # Browsers must re-check the worker on every visit, or a fix could take a day to arrive.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    # The browser re-checks the worker on every visit: an unchanged one costs a 304.
    response.set_etag(config["version"] + ("-gz" if gzipped else ""))
    return response.make_conditional(request)

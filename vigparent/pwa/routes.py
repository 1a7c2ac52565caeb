"""Installable app: the web app manifest, service worker and offline page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, url_for

from vigparent.security import public

bp = Blueprint("pwa", __name__)

THEME_COLOUR = "#1d5c63"


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

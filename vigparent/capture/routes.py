"""Filming on the phone: the recorder and the list of recordings waiting to send.

Both pages are shells: the recordings themselves live in the phone's IndexedDB, so the
pages work offline (served by the service worker) and the scripts fill them in.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask_login import current_user

from vigparent import assets, i18n
from vigparent.capture import service
from vigparent.models import Role
from vigparent.security import require_role

bp = Blueprint("capture", __name__, url_prefix="/film")
bp.before_request(require_role(Role.PARENT))

# One bundle for every parent page (templates/capture/_parent_head.html, included by
# base.html): the queue must resume and the service worker register wherever the parent is.
# pending.js and home-sending.js switch themselves on only when their element is on the page.
assets.register(
    "capture_js",
    "idb/build/umd.js",
    "js/vig-store.js",
    "js/sha256.js",
    "js/container.js",
    "js/upload-rules.js",
    "js/uploader.js",
    "js/sw-register.js",
    "js/pending.js",
    "js/home-sending.js",
)
# Only the pages that use them: filming, and the install guidance on My videos.
assets.register("record_js", "js/recorder.js", after=("common_js", "capture_js"))
assets.register("install_js", "js/install.js", after=("common_js", "capture_js"))
# Fetched by uploader.js when a video is to be sent (most page loads send nothing).
assets.register("tus_js", "tus-js-client/dist/tus.min.js")


@bp.app_context_processor
def _capture_config() -> dict[str, Any]:
    """What the parent bundle needs on every page, rendered as data attributes (strict CSP)."""

    def capture_config() -> dict[str, Any]:
        settings = current_app.extensions["vig_settings"]
        return {
            # The tus endpoint and status URLs are fixed by docs/upload-contract.md.
            "upload-endpoint": "/api/uploads",
            "status-url": "/api/uploads/status",
            "chunk-bytes": service.upload_chunk_bytes(current_app.testing),
            "max-bytes": settings.max_upload_bytes,
            "record-url": url_for("capture.record"),
            "pending-url": url_for("capture.pending"),
            # A new language is a new worker script, so the phone saves its offline pages again
            # in that language (pwa/routes.py); English keeps the plain URL it always had.
            "sw-url": i18n.service_worker_url(),
            "tus-url": assets.bundle_url("tus_js"),
        }

    return {"capture_config": capture_config}


@bp.get("/")
def record() -> Any:
    return render_template(
        "capture/record.html",
        filming=service.filming_state(current_user.family),
        FilmingState=service.FilmingState,
        nudge_seconds=service.NUDGE_SECONDS,
        max_seconds=service.MAX_SECONDS,
        low_storage_bytes=service.LOW_STORAGE_BYTES,
    )


@bp.get("/videos")
def pending() -> Any:
    return render_template("capture/pending.html")

"""The capture pages, the service worker script and the manifest, through the Flask client."""

from __future__ import annotations

import json
import re

from flask import Flask

from tests.conftest import Factory, page_text
from vigparent.models import ConsentKind, FamilyStatus


def test_record_page_has_recorder_and_fallbacks(client, make: Factory, login_as):
    family = make.family()
    login_as(make.parent_of(family))
    response = client.get("/film/")
    assert response.status_code == 200
    html = page_text(response)
    assert 'id="vig-recorder"' in html
    assert "Start filming" in html
    # Both fallbacks: the camera app and the gallery.
    assert re.search(r'<input type="file"[^>]*accept="video/\*" capture="environment"', html)
    assert re.search(r'<input type="file" id="rec-file-pick"[^>]*accept="video/\*">', html)
    assert 'data-max-seconds="600"' in html and 'data-nudge-seconds="300"' in html
    # No inline script or style anywhere (strict CSP).
    assert "<script>" not in html and "style=" not in html and " on" + "click=" not in html


def test_parent_pages_load_the_capture_bundle_and_config(client, make: Factory, login_as):
    family = make.family()
    login_as(make.parent_of(family))
    html = page_text(client.get("/film/videos"))
    assert re.search(r'<script src="/static/gen/capture_js\.[0-9a-f]+\.js" defer>', html)
    meta = re.search(r'<meta name="vig-capture"([^>]*)>', html)
    assert meta
    assert 'data-upload-endpoint="/api/uploads"' in meta.group(1)
    assert 'data-sw-url="/sw.js"' in meta.group(1)
    # Tests get small tus chunks so short recordings still cross several PATCHes.
    assert 'data-chunk-bytes="65536"' in meta.group(1)


def test_staff_pages_do_not_register_the_service_worker(client, make: Factory, login_as):
    practitioner = make.practitioner()
    login_as(practitioner)
    html = page_text(client.get("/", follow_redirects=True))
    assert "capture_js" not in html and "vig-capture" not in html


def test_staff_cannot_open_parent_capture_pages(client, make: Factory, login_as):
    login_as(make.practitioner())
    assert client.get("/film/").status_code == 404
    assert client.get("/film/videos").status_code == 404


def test_signed_out_parent_page_asks_for_the_invitation_link(client):
    response = client.get("/film/videos")
    assert response.status_code == 401
    assert "invitation link" in page_text(response)


def test_record_page_without_consent_explains_and_hides_recorder(client, make: Factory, login_as):
    family = make.family(consents=(ConsentKind.FILMING,))
    login_as(make.parent_of(family))
    html = page_text(client.get("/film/"))
    assert "vig-recorder" not in html
    assert "agree to filming" in html


def test_record_page_for_closed_family_says_filming_stopped(client, make: Factory, login_as):
    family = make.family(status=FamilyStatus.CLOSED)
    login_as(make.parent_of(family))
    html = page_text(client.get("/film/"))
    assert "vig-recorder" not in html
    assert "Filming has stopped" in html


def _sw_config(body: str) -> dict:
    first, _, rest = body.partition("\n")
    assert first.startswith("self.VIG_SW = ") and first.endswith(";")
    assert 'addEventListener("fetch"' in rest
    return json.loads(first[len("self.VIG_SW = ") : -1])


def test_service_worker_is_served_from_root_uncached_with_versioned_precache(app: Flask, client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    config = _sw_config(response.get_data(as_text=True))
    assert {"/home/", "/film/", "/film/videos", "/offline"} <= set(config["pages"])
    with app.test_request_context():
        urls = app.jinja_env.globals["asset_urls"]
        for bundle in ("css", "common_js", "capture_js"):
            for url in urls(bundle):
                assert url in config["assets"]
    assert all(u.startswith("/static/") for u in config["assets"])
    assert config["passThrough"] == ["/api/", "/media/"]
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])
    # Same bundles, same worker: the browser only reinstalls when something changed.
    assert client.get("/sw.js").get_data() == response.get_data()


def test_manifest_icons_exist_in_both_sizes_and_are_maskable(app: Flask, client):
    manifest = client.get("/manifest.webmanifest").get_json()
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    sizes = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable")} <= sizes
    assert ("512x512", "maskable") in sizes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as png:
            assert png.status_code == 200 and png.mimetype == "image/png"
            width = int.from_bytes(png.data[16:20], "big")
            height = int.from_bytes(png.data[20:24], "big")
        assert f"{width}x{height}" == icon["sizes"]


def test_offline_page_offers_the_cached_parent_pages(client, make: Factory, login_as):
    login_as(make.parent_of(make.family()))
    html = page_text(client.get("/offline"))
    assert "No signal" in html
    assert 'href="/film/videos"' in html and 'href="/film/"' in html

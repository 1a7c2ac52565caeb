"""A parent's phone downloads little: bundles gzipped, and each page names only its scripts."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from flask import Flask

from tests.conftest import Factory


def _scripts(html: str) -> list[str]:
    return re.findall(r'<script src="/static/gen/([a-z_]+)\.[0-9a-f]+\.js"', html)


def test_bundles_are_sent_gzipped_to_browsers_that_accept_it(app: Flask, client, login_as, make):
    login_as(make.parent_of(make.family()))
    html = client.get("/home/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/gen/[^"]+\.(?:js|css))"', html)
    assert urls
    assert app.static_folder is not None
    for url in urls:
        original = (Path(app.static_folder) / url.removeprefix("/static/")).read_bytes()
        with client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}) as packed:
            packed.get_data()
        assert packed.status_code == 200
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert "immutable" in packed.headers["Cache-Control"]
        assert gzip.decompress(packed.data) == original
        assert len(packed.data) < len(original)
        with client.get(url, headers={"Accept-Encoding": "identity"}) as plain:
            plain.get_data()
        assert "Content-Encoding" not in plain.headers and plain.data == original
        if url.endswith(".js"):
            assert packed.mimetype == "text/javascript"
    with client.get("/static/gen/no-such.js") as missing:
        assert missing.status_code == 404


def test_each_parent_page_loads_only_the_scripts_it_uses(client, login_as, make: Factory):
    login_as(make.parent_of(make.family()))
    home = _scripts(client.get("/home/").get_data(as_text=True))
    film = _scripts(client.get("/film/").get_data(as_text=True))
    videos = _scripts(client.get("/film/videos").get_data(as_text=True))
    assert "record_js" not in home and "install_js" not in home
    assert "tus_js" not in home + film + videos  # fetched only when a video is sent
    assert "record_js" in film and "install_js" not in film
    assert "install_js" in videos and "record_js" not in videos


def test_the_service_worker_takes_bundles_from_the_http_cache(client):
    worker = client.get("/sw.js").get_data(as_text=True)
    assert 'cache: "reload"' not in worker
    assert "cache.addAll(CFG.assets)" in worker

"""The browser scripts share `window.vig`, so they run in a declared order (vigparent/assets.py).

Each script's header names the files it needs (`@requires`); these tests check that every
bundle loads those first (earlier in the bundle, or in a bundle the page loaded before), that
the names a script reads on `vig` come from what it requires, and that real pages load the
bundles in the order declared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Factory
from vigparent import assets

STATIC = Path(assets.__file__).resolve().parent / "static"
# Strings and comments, so that `vig.` inside them (storage keys, prose) is not taken for code.
STRINGS_AND_COMMENTS = re.compile(
    r"""/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`""", re.S
)


def _own_scripts(bundle: str) -> list[str]:
    return [s for s in assets.BUNDLES[bundle].contents if isinstance(s, str) and s.endswith(".js")]


def _js_bundles() -> list[str]:
    return [name for name in assets.BUNDLES if name.endswith("_js")]


def _requires(source: str) -> list[str]:
    header = re.match(r"(?:\s*//[^\n]*\n)*\s*/\*.*?\*/", (STATIC / source).read_text(), re.S)
    assert header, f"{source} has no header comment"
    return [
        name for line in re.findall(r"@requires ([^\n]*)", header.group()) for name in line.split()
    ]


def _code(source: str) -> str:
    return STRINGS_AND_COMMENTS.sub(" ", (STATIC / source).read_text())


def _provides(source: str) -> set[str]:
    return set(re.findall(r"\bvig\.(\w+)\s*=(?!=)", _code(source)))


def _reads(source: str) -> set[str]:
    return set(re.findall(r"\bvig\.(\w+)\b(?!\s*=[^=])", _code(source)))


def _used_only_if_loaded(source: str) -> set[str]:
    """Names the script checks for before using them (`vig.x && ...`, `if (vig.x)`, `!vig.x`)."""
    code = _code(source)
    guarded = r"(?:if \(|!|&& )vig\.(\w+)\b(?![.(])|\bvig\.(\w+)\s*(?:&&|\?)"
    return {a or b for a, b in re.findall(guarded, code)}


def test_every_bundle_loads_what_its_scripts_require_before_them(app: Flask) -> None:
    checked = 0
    for bundle in _js_bundles():
        loaded = [s for before in assets.LOADED_AFTER[bundle] for s in _own_scripts(before)]
        for source in assets.BUNDLES[bundle].contents:
            assert isinstance(source, str)
            if source.startswith("js/"):
                for needed in _requires(source):
                    assert needed in loaded, (
                        f"{source} requires {needed}, which bundle {bundle!r} has not loaded "
                        f"before it (loaded: {loaded})"
                    )
                    checked += 1
            loaded.append(source)
    assert checked > 20


def test_after_names_real_bundles_loaded_first(app: Flask) -> None:
    for bundle in _js_bundles():
        for before in assets.LOADED_AFTER[bundle]:
            assert before in assets.BUNDLES and before != bundle
            assert set(assets.LOADED_AFTER[before]) <= set(assets.LOADED_AFTER[bundle])


@pytest.mark.parametrize("source", sorted(p.name for p in (STATIC / "js").glob("*.js")))
def test_a_script_reads_only_what_it_defines_or_requires(source: str) -> None:
    path = f"js/{source}"
    if source == "sw.js":  # the service worker: a world of its own, no `vig`
        assert not _reads(path)
        return
    allowed = _provides(path) | _used_only_if_loaded(path)
    for needed in _requires(path):
        if needed.startswith("js/"):
            allowed |= _provides(needed)
    missing = _reads(path) - allowed
    assert not missing, f"{source} reads vig.{sorted(missing)} without @requires for them"


def test_the_checks_see_a_missing_requirement() -> None:
    """The regexes above find uses, definitions and guards (so the checks can fail)."""
    assert {"store", "config", "uploadRules"} <= _reads("js/uploader.js")
    assert "uploader" in _provides("js/uploader.js")
    assert "recorderBusy" in _used_only_if_loaded("js/uploader.js")
    assert "store" not in _used_only_if_loaded("js/uploader.js")
    assert "withdrawal" not in _reads("js/withdraw.js")  # only in a storage key string
    assert _requires("js/uploader.js")[-1] == "js/upload-rules.js"


def _bundles_on(html: str) -> list[str]:
    """The bundles a page loads, in order (a bundle's file is named after its output)."""
    by_file = {Path(b.output).name.split(".")[0]: name for name, b in assets.BUNDLES.items()}
    files = re.findall(r'<script src="/static/gen/([a-z_]+)\.[0-9a-f]+\.js"', html)
    return [by_file[f] for f in files]


def test_pages_load_bundles_in_the_declared_order(
    client: FlaskClient, login_as, make: Factory
) -> None:
    family = make.family()
    pages = {"/film/": "record_js", "/film/videos": "install_js", "/home/": "capture_js"}
    login_as(make.parent_of(family))
    for url, expected in pages.items():
        on_page = _bundles_on(client.get(url).get_data(as_text=True))
        assert expected in on_page, (url, on_page)
        for i, bundle in enumerate(on_page):
            for before in assets.LOADED_AFTER[bundle]:
                assert before in on_page[:i], f"{url}: {bundle} loads before {before}: {on_page}"

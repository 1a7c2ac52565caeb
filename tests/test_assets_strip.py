"""The phone gets our scripts without their comment lines, and with all of their code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from vigparent import assets
from vigparent.assets import OUR_SCRIPTS, strip_comment_lines

# Comments and strings: comments go, strings stay (a `//` inside a string is not a comment).
TOKENS = re.compile(
    r"""(/\*.*?\*/|//[^\n]*)|("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)""", re.S
)


def _code_only(source: str) -> str:
    without = TOKENS.sub(lambda m: m.group(2) or " ", source)
    return " ".join(without.split())


def test_only_whole_comment_lines_go() -> None:
    source = (
        "/* Header\n"
        " * more\n"
        " */\n"
        "(function () {\n"
        '  "use strict";\n'
        "  // a note\n"
        '  const url = "http://example.org/*x*/"; // kept: code on the line\n'
        "  /* one line */\n"
        "  const re = /\\/\\/ not a comment/;\n"
        "  /* a comment, then code */ const a = 1;\n"
        "  /* starts here\n"
        "     ends here */ const b = 2;\n"
        "  /** @type {number} */\n"
        "  const c = /** @type {number} */ (3);\n"
        "})();\n"
    )
    assert strip_comment_lines(source) == (
        "(function () {\n"
        '  "use strict";\n'
        '  const url = "http://example.org/*x*/"; // kept: code on the line\n'
        "  const re = /\\/\\/ not a comment/;\n"
        "  /* a comment, then code */ const a = 1;\n"
        "const b = 2;\n"
        "  const c = /** @type {number} */ (3);\n"
        "})();\n"
    )


@pytest.mark.parametrize("script", sorted(p.name for p in OUR_SCRIPTS.glob("*.js")))
def test_stripping_keeps_every_token_of_code(script: str) -> None:
    source = (OUR_SCRIPTS / script).read_text()
    stripped = strip_comment_lines(source)
    assert _code_only(stripped) == _code_only(source)
    assert len(stripped) < len(source)


def test_built_bundles_are_valid_javascript_without_comment_lines(app: Flask) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert app.static_folder is not None
    gen = Path(app.static_folder) / "gen"
    for name, bundle in assets.BUNDLES.items():
        if not name.endswith("_js"):
            continue
        with app.test_request_context():
            (url,) = app.extensions["vig_assets"][name].urls()
        built = gen / Path(url).name
        text = built.read_text()
        check = subprocess.run([node, "--check", str(built)], capture_output=True, text=True)
        assert check.returncode == 0, f"{name}: {check.stderr}"
        if any(str(s).startswith("js/") for s in bundle.contents):
            assert not re.search(r"^\s*(//|/\*)", text, re.M), name

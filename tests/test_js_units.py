"""Runs the Node unit tests of the browser scripts' pure logic (tests/js/*.test.mjs).

They cover what a browser test reaches only slowly or by luck: the incremental SHA-256 at
every padding edge, cutting a recording back at every byte, and each of the uploader's
decisions. Node comes with npm, which `make install` needs anyway.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node is not installed (it comes with npm; see README.md)"
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert len(files) >= 3
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
    assert "# fail 0" in result.stdout or "ℹ fail 0" in result.stdout, result.stdout

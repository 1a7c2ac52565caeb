#!/usr/bin/env bash
# A production install, as the README describes it, in a fresh venv: requirements.lock, then
# the wheel (with its page bundles, built by `make assets`) without dependencies. Checks that
# no development tool came along, and that the app starts and serves a page with its bundles
# from a directory with no node_modules. Needs `make install` (node_modules, .venv) first.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip=(--quiet --disable-pip-version-check)

.venv/bin/python -m vigparent.build_assets
# Built from a copy, so the build leaves nothing (build/) in the checkout.
mkdir "$work/src"
cp -r vigparent pyproject.toml "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
.venv/bin/pip wheel "${pip[@]}" --no-deps -w "$work/wheels" "$work/src"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install "${pip[@]}" -r requirements.lock
"$work/venv/bin/pip" install "${pip[@]}" --no-deps "$work"/wheels/vigparent-*.whl

installed="$("$work/venv/bin/pip" list --format=freeze --disable-pip-version-check)"
for tool in pytest playwright mypy ruff hypothesis selenium tuspy waitress psycopg; do
  if grep -qi "^$tool==" <<<"$installed"; then
    echo "production install has $tool" >&2
    exit 1
  fi
done

mkdir "$work/run"
cd "$work/run"
VIGPARENT_DATA_DIR="$work/run/data" "$work/venv/bin/vig-init-secrets" >/dev/null
VIGPARENT_DATA_DIR="$work/run/data" "$work/venv/bin/python" - <<'PY'
import re

import vigparent
from vigparent import create_app

assert "/site-packages/" in vigparent.__file__, vigparent.__file__
client = create_app().test_client()
page = client.get("/login")
assert page.status_code == 200, page.status_code
urls = re.findall(r'(?:href|src)="(/static/gen/[^"]+)"', page.get_data(as_text=True))
assert urls and all(client.get(u).status_code == 200 for u in urls), urls
# The compiled language catalogues came with the wheel (make assets builds them).
welsh = client.get("/offline", headers={"Accept-Language": "cy"}).get_data(as_text=True)
assert '<html lang="cy">' in welsh and "Dim signal" in welsh, "no Welsh: were the .mo files built?"
print(f"Production install: {len(urls)} bundles served, Welsh spoken, no development tools.")
PY

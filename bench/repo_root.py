"""Put the repository root on ``sys.path``: the benches run as scripts (``python bench/x.py``)
and borrow the test helpers in ``tests/support`` (real videos, signed-in phones)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

"""`python -m vigparent.build_assets` (`make assets`): build the page bundles into static/gen,
and compile the language catalogues (vigparent/translations) into the .mo files Babel reads.

Needs no settings or secrets, only the source checkout with node_modules. Run it before
building a wheel: the wheel then carries the bundles and never reads node_modules.
"""

from __future__ import annotations

import importlib

from vigparent import FEATURES, assets, i18n


def build() -> int:
    """Compile the language catalogues; build every feature's bundles (return how many gzipped)."""
    i18n.compile_catalogues()
    for feature in FEATURES:
        importlib.import_module(f"vigparent.{feature}.routes")  # registers its bundles
    env = assets.build_environment(str(assets.STATIC), auto_build=True)
    return assets.build_all(env, str(assets.STATIC))


if __name__ == "__main__":
    print(f"Built the page bundles into {assets.STATIC / 'gen'} ({build()} gzipped).")

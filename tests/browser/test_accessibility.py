"""axe-core finds no serious or critical accessibility problems on the screens people use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import new_context, sign_in_staff
from tests.conftest import Factory

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.fixture
def axe_phone(browser, live_server):  # type: ignore[no-untyped-def]
    # The page's CSP forbids injected scripts; axe is injected only in this test context.
    context = new_context(browser, live_server, bypass_csp=True)
    yield context.new_page()
    context.close()


def test_public_and_staff_pages_have_no_serious_violations(axe_phone, make: Factory, login_as, app):
    practitioner = make.practitioner("jo@example.org")
    make.family(practitioner)
    for path in ("/", "/login", "/no-such-page"):
        axe_phone.goto(path)
        assert axe_violations(axe_phone) == [], path

    sign_in_staff(axe_phone, "jo@example.org")
    assert axe_violations(axe_phone) == []

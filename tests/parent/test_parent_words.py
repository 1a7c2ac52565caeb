"""Parent screens use parents' words: no staff terms, version strings, sizes or error codes."""

from __future__ import annotations

import pytest

from tests.conftest import page_text
from tests.media.conftest import Filmed
from vigparent.models import Principle

STAFF_WORDS = ("This shows:", "Wording version", " MB", "Error code", "helps Sam")


def _staff_words_in(text: str) -> list[str]:
    found = [w for w in STAFF_WORDS if w in text]
    found += [p.label for p in Principle if p.label in text]
    return found


def test_review_goal_and_privacy_pages_use_parents_words(filmed: Filmed, login_as, client):
    login_as(filmed.parent)
    review = page_text(client.get("/review/"))
    assert _staff_words_in(review) == []
    assert filmed.clip.principle.parent_label in review
    assert _staff_words_in(page_text(client.get("/consent/privacy"))) == []
    goal = client.get("/goals/")
    assert goal.status_code == 200 and _staff_words_in(page_text(goal)) == []


@pytest.mark.parametrize("path", ["/home/", "/no-such-page"])
def test_error_pages_have_no_error_codes(client, path):
    assert "Error code" not in page_text(client.get(path))


def test_every_principle_has_a_parent_name():
    names = {p.parent_label for p in Principle}
    assert len(names) == len(Principle)
    assert not names & {p.label for p in Principle}

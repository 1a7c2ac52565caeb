"""Form errors follow the GOV.UK pattern: "Error:" starts the title, a summary at the top
links to each field, and the message sits beside the field it is about."""

from __future__ import annotations

import re

from tests.conftest import csrf_token, page_text
from tests.invitations.conftest import Invited, invited  # noqa: F401 - shared fixture
from tests.media.conftest import Filmed, filmed  # noqa: F401 - shared fixture


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return " ".join(match.group(1).split())


def _summary_links(html: str) -> list[tuple[str, str]]:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert match, "no error summary"
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', match.group(0))


def test_consent_error_has_summary_title_and_message_by_the_boxes(client, invited: Invited):  # noqa: F811
    url = f"{invited.path}/consent"
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "filming": "y"})
    assert r.status_code == 400
    html = page_text(r)
    assert _title(html).startswith("Error: ")
    ((target, message),) = _summary_links(html)
    assert target == "consent-storage"  # the box still to tick
    assert "tick both boxes" in message  # there are two boxes, not "the first two"
    assert "first two" not in html
    # Beside the boxes, and tied to them for screen readers.
    assert re.search(r'<p class="field-error" id="consent-error">.*tick both boxes', html, re.S)
    assert 'aria-describedby="consent-error"' in html


def test_review_error_has_summary_title_and_message_by_the_field(filmed: Filmed, login_as, client):  # noqa: F811
    login_as(filmed.parent)
    token = csrf_token(client, "/review/")
    r = client.post(
        f"/review/clips/{filmed.clip.id}/reflection", data={"csrf_token": token, "text": ""}
    )
    html = page_text(r)
    assert _title(html).startswith("Error: ")
    key = f"clip-{filmed.clip.id}"
    assert _summary_links(html) == [(f"{key}-text", "Write what you noticed first, then tap Save.")]
    assert f'aria-describedby="{key}-problem"' in html


def test_pages_without_errors_have_no_error_title(client, invited: Invited):  # noqa: F811
    html = page_text(client.get(f"{invited.path}/consent"))
    assert not _title(html).startswith("Error")
    assert "error-summary" not in html


def test_goal_error_has_summary_title_and_message_by_the_field(make, login_as, client):
    family = make.family()
    parent = make.parent_of(family)
    login_as(parent)
    token = csrf_token(client, "/goals/")
    r = client.post(
        f"/goals/family/{family.id}/propose",
        data={"csrf_token": token, "text": "", "helping_question": ""},
    )
    html = page_text(r)
    assert r.status_code == 400
    assert _title(html).startswith("Error: ")
    assert _summary_links(html) == [("text", "Please write the goal in a few words.")]
    assert 'id="text-error"' in html and "helps Sam" not in html


def test_plan_error_has_summary_title_and_message_by_the_field(make, login_as, client):
    practitioner = make.practitioner()
    family = make.family(practitioner=practitioner)
    login_as(practitioner)
    url = f"/practice/families/{family.id}/plan"
    r = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "place": "home",
            "film_by": "2099-06-10",
            "review_on": "2099-06-01",
        },
    )
    assert r.status_code == 400
    html = page_text(r)
    assert _title(html).startswith("Error: ")
    message = "The review should be on or after the filming date."
    assert _summary_links(html) == [("review_on", message)]
    assert re.search(r'<p class="field-error" id="review_on-error">.*on or after', html, re.S)

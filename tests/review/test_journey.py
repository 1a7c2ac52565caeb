"""The whole VIG loop as people drive it, with no database edits: plan → film → clip → publish
→ review → rating → chart. The phone sends no cycle id (as every phone does today)."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import Factory, csrf_token, page_text
from tests.support.parent_session import sign_in
from tests.uploads.conftest import Tus
from tests.uploads.conftest import webm as webm  # shared fixture


def _first(pattern: str, html: str) -> str:
    match = re.search(pattern, html)
    assert match, f"{pattern!r} not on the page"
    return match.group(1)


def test_film_clip_publish_review_rate_and_chart(
    app: Flask, make: Factory, login_as, webm: bytes
) -> None:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    family_id = family.id

    # The practitioner agrees a filming plan (cycle 1).
    staff = login_as(practitioner, app.test_client())
    plan_url = f"/practice/families/{family_id}/plan"
    token = csrf_token(staff, plan_url)
    r = staff.post(plan_url, data={"csrf_token": token, "place": "home", "activity": "bath time"})
    assert r.status_code == 302, page_text(r)

    # The parent films and sends it; the phone names no cycle.
    phone = Tus(app.test_client(), sign_in(app, parent.id), family, parent)
    phone.upload(webm)

    # The practitioner opens the new video from the family's page, cuts a clip, publishes.
    videos = page_text(staff.get(f"/practice/clips/families/{family_id}"))
    recording_url = _first(r'href="(/practice/clips/recordings/\d+)"', videos)
    r = staff.post(
        recording_url,
        data={
            "csrf_token": token,
            "title": "You waited",
            "strength_note": "You waited, and Sam looked back at you.",
            "principle": "encouraging_initiatives",
            "position": 1,
            "start_s": "0.200",
            "end_s": "1.400",
        },
    )
    assert r.status_code == 302, page_text(r)
    editor = page_text(staff.get(recording_url))
    publish_url = _first(r'action="(/practice/clips/\d+/publish)"', editor)
    assert staff.post(publish_url, data={"csrf_token": token}).status_code == 302

    # The parent watches the clips and is asked how things are going.
    review = page_text(phone.client.get("/review/"))
    assert "You waited" in review
    assert "How are things going?" in review
    rating_url = _first(r'action="(/review/cycles/\d+/rating)"', review)
    r = phone.client.post(rating_url, data={"csrf_token": phone.signed.csrf_token, "score": "6"})
    assert r.status_code == 302
    review = page_text(phone.client.get("/review/"))
    assert "Your progress" in review and "review 1: 6 out of 10" in review

    # The practitioner sees the outcome measure.
    videos = page_text(staff.get(f"/practice/clips/families/{family_id}"))
    assert re.search(r"Review 1</td><td>[^<]*</td><td>6 out of 10", videos)

"""The parent's review screen: published clips, notes, reflections, ratings and the chart."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Factory, csrf_token, page_text
from tests.media.conftest import Filmed
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import clock, db
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Cycle,
    Goal,
    GoalStatus,
    Organisation,
    ProgressRating,
    Reflection,
)


@pytest.fixture
def parent_client(filmed: Filmed, login_as, client):
    login_as(filmed.parent)
    return client, csrf_token(client, "/review/")


def test_empty_review_says_what_happens_next(make: Factory, login_as, client):
    family = make.family()
    login_as(make.parent_of(family))
    r = client.get("/review/")
    assert r.status_code == 200
    text = page_text(r)
    assert "No clips yet" in text and "your practitioner will choose" in text


def test_published_clips_in_order_with_notes(filmed: Filmed, parent_client):
    client, _ = parent_client
    rec = filmed.recording
    add_clip(rec, title="Second: you named it", position=3, note="You said 'splash!'")
    add_clip(rec, title="Draft clip", position=2, published=False)
    add_clip(rec, title="Still being cut", position=2, cut=False)
    html = page_text(client.get("/review/"))
    titles = re.findall(r'<h3 class="review-clip-title">([^<]+)</h3>', html)
    assert titles == ["You waited", "Second: you named it"]
    assert "Clip 1 of 2" in html and "Clip 2 of 2" in html
    assert "You waited, and Sam looked back at you." in html
    assert "What you did that helped" in html
    assert "Following your child's lead" in html
    assert f'poster="/media/clips/{filmed.clip.id}/poster"' in html
    assert f'src="/media/clips/{filmed.clip.id}"' in html
    assert "Draft clip" not in html and "Still being cut" not in html
    # No keep-a-copy by default: no download link anywhere.
    assert "/download" not in html and "Save this clip" not in html


def test_goal_is_shown(filmed: Filmed, parent_client):
    client, _ = parent_client
    db.session().add(
        Goal(
            family_id=filmed.family.id,
            text="I'd like bath time to be calmer.",
            helping_question="What do I do that helps Sam settle?",
            status=GoalStatus.AGREED,
            proposed_by_id=filmed.practitioner.id,
        )
    )
    db.session().commit()
    text = page_text(client.get("/review/"))
    assert "I'd like bath time to be calmer." in text
    assert "What do I do that helps Sam settle?" in text


def test_write_change_and_clear_a_clip_reflection(filmed: Filmed, parent_client):
    client, token = parent_client
    url = f"/review/clips/{filmed.clip.id}/reflection"
    r = client.post(url, data={"csrf_token": token, "text": "  I waited for her.  "})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"saved=clip-{filmed.clip.id}#clip-{filmed.clip.id}")
    page = page_text(client.get(r.headers["Location"]))
    assert "Saved. Thank you." in page and ">I waited for her.</textarea>" in page
    client.post(url, data={"csrf_token": token, "text": "I waited, and she smiled."})
    rows = db.session().query(Reflection).all()
    assert [(r.text, r.clip_id) for r in rows] == [("I waited, and she smiled.", filmed.clip.id)]
    assert rows[0].cycle_id == filmed.recording.cycle_id
    client.post(url, data={"csrf_token": token, "text": "   "})
    assert db.session().query(Reflection).count() == 0


def test_too_long_reflection_keeps_what_was_typed(filmed: Filmed, parent_client):
    client, token = parent_client
    long_text = "a" * 4001
    r = client.post(
        f"/review/clips/{filmed.clip.id}/reflection", data={"csrf_token": token, "text": long_text}
    )
    assert r.status_code == 400
    text = page_text(r)
    assert "Please keep it under 4,000 letters." in text
    assert long_text in text  # nothing the parent typed is lost
    assert db.session().query(Reflection).count() == 0


def test_overall_reflection(filmed: Filmed, parent_client):
    client, token = parent_client
    key = str(filmed.recording.cycle_id)
    r = client.post(
        "/review/reflection", data={"csrf_token": token, "set": key, "text": "We both relaxed."}
    )
    assert r.status_code == 302
    row = db.session().query(Reflection).one()
    assert (row.clip_id, row.cycle_id, row.text) == (
        None,
        filmed.recording.cycle_id,
        "We both relaxed.",
    )
    assert (
        client.post(
            "/review/reflection", data={"csrf_token": token, "set": "999", "text": "x"}
        ).status_code
        == 404
    )


def test_rating_saves_replaces_and_refuses_nonsense(filmed: Filmed, parent_client):
    client, token = parent_client
    url = f"/review/cycles/{filmed.recording.cycle_id}/rating"
    for bad in ("0", "11", "seven", ""):
        r = client.post(url, data={"csrf_token": token, "score": bad})
        assert r.status_code == 400
        assert "Choose a number from 1 to 10." in page_text(r)
    assert client.post(url, data={"csrf_token": token}).status_code == 400
    assert client.post(url, data={"csrf_token": token, "score": "4"}).status_code == 302
    assert client.post(url, data={"csrf_token": token, "score": "6"}).status_code == 302
    assert [r.score for r in db.session().query(ProgressRating)] == [6]
    html = page_text(client.get("/review/"))
    assert re.search(r'value="6"[^>]*checked', html)


def test_progress_chart_across_cycles(filmed: Filmed, parent_client, make: Factory):
    client, token = parent_client
    scores = {1: 3, 2: 5, 3: 8}
    first = db.session().get(Cycle, filmed.recording.cycle_id)
    assert first is not None
    cycles = {1: first}
    for number in (2, 3):
        cycle = add_cycle(filmed.family, number)
        cycles[number] = cycle
        rec = add_recording(filmed.family, filmed.parent, cycle=cycle, seconds=1.5)
        add_clip(rec, start=0.0, end=1.0, title=f"Cycle {number} moment")
    for number, score in scores.items():
        client.post(
            f"/review/cycles/{cycles[number].id}/rating",
            data={"csrf_token": token, "score": str(score)},
        )
    html = page_text(client.get("/review/"))
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in chart
    assert "review 1: 3 out of 10; review 2: 5 out of 10; review 3: 8 out of 10" in chart
    assert chart.count("<circle") == 3
    ys = [
        float(y)
        for y in re.findall(r'<circle class="chart-point" cx="[\d.]+" cy="([\d.]+)"', chart)
    ]
    assert ys[0] > ys[1] > ys[2]  # higher score, higher on the chart (smaller y)
    table = html[html.index('<table class="progress-table">') : html.index("</table>")]
    assert re.findall(r"<td>Review (\d)</td><td>(\d+) out of 10</td>", table) == [
        ("1", "3"),
        ("2", "5"),
        ("3", "8"),
    ]
    # The latest review is open; the earlier ones are folded away below it.
    titles = re.findall(r'<h3 class="review-clip-title">([^<]+)</h3>', html)
    assert titles == ["Cycle 3 moment", "Cycle 2 moment", "You waited"]
    assert html.index("Cycle 3 moment") < html.index("Earlier clips") < html.index("Cycle 2 moment")


def _allow_copies(filmed: Filmed, consent: bool = True) -> None:
    s = db.session()
    org = s.get(Organisation, filmed.family.organisation_id)
    assert org is not None
    org.parents_may_keep_copies = True
    if consent:
        s.add(
            ConsentRecord(
                family_id=filmed.family.id,
                user_id=filmed.parent.id,
                kind=ConsentKind.KEEP_COPY,
                wording_version="test",
            )
        )
    s.commit()


def test_download_only_when_organisation_allows_and_parent_consented(filmed: Filmed, parent_client):
    client, _ = parent_client
    url = f"/media/clips/{filmed.clip.id}/download"
    assert client.get(url).status_code == 404
    _allow_copies(filmed, consent=False)
    assert client.get(url).status_code == 404
    assert "Save this clip" not in page_text(client.get("/review/"))

    _allow_copies(filmed)
    html = page_text(client.get("/review/"))
    assert f'href="{url}"' in html and "Save this clip to my phone" in html
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="vig-clip-1-you-waited.mp4"'
    assert r.headers["Cache-Control"] == "private, max-age=3600"
    assert r.data[4:8] == b"ftyp"
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    # Streaming for watching is still inline.
    inline = client.get(f"/media/clips/{filmed.clip.id}")
    assert inline.headers["Content-Disposition"] == "inline"
    assert inline.headers["Cache-Control"] == "private, max-age=3600"


def test_withdrawn_keep_copy_consent_removes_download(filmed: Filmed, parent_client):
    client, _ = parent_client
    _allow_copies(filmed)
    consent = db.session().query(ConsentRecord).filter_by(kind=ConsentKind.KEEP_COPY).one()
    consent.withdrawn_at = clock.now()
    db.session().commit()
    assert client.get(f"/media/clips/{filmed.clip.id}/download").status_code == 404
    assert "Save this clip" not in page_text(client.get("/review/"))
    r = client.get(f"/media/clips/{filmed.clip.id}")
    assert r.headers["Cache-Control"] == "private, no-store"


def test_practitioner_never_gets_the_download_or_cacheable_media(filmed: Filmed, login_as, client):
    _allow_copies(filmed)
    login_as(filmed.practitioner)
    assert client.get(f"/media/clips/{filmed.clip.id}/download").status_code == 404
    assert client.get(f"/media/clips/{filmed.clip.id}").headers["Cache-Control"] == (
        "private, no-store"
    )


def test_another_carer_needs_their_own_keep_copy_consent(filmed: Filmed, make, login_as, client):
    _allow_copies(filmed)
    second = make.parent(filmed.family, name="Jo")
    login_as(second)
    assert client.get(f"/media/clips/{filmed.clip.id}/download").status_code == 404


def test_practitioner_sees_what_the_family_wrote(filmed: Filmed, parent_client, login_as):
    client, token = parent_client
    client.post(
        f"/review/clips/{filmed.clip.id}/reflection",
        data={"csrf_token": token, "text": "I waited for her."},
    )
    client.post(
        f"/review/cycles/{filmed.recording.cycle_id}/rating",
        data={"csrf_token": token, "score": "7"},
    )
    from flask import current_app

    staff = current_app.test_client()
    login_as(filmed.practitioner, on=staff)
    text = page_text(staff.get(f"/practice/clips/families/{filmed.family.id}"))
    assert "I waited for her." in text and "about “You waited”" in text
    assert "7 out of 10" in text


def test_review_is_for_parents_only(filmed: Filmed, login_as, client):
    login_as(filmed.practitioner)
    assert client.get("/review/").status_code == 404


def test_signed_out_parent_is_told_to_open_their_link(client):
    r = client.get("/review/")
    assert r.status_code == 401
    assert "open the link your practitioner sent you" in page_text(r)


def test_an_empty_reflection_is_refused_with_a_clear_message(filmed, login_as, client):
    login_as(filmed.parent)
    token = csrf_token(client, "/review/")
    r = client.post(
        f"/review/clips/{filmed.clip.id}/reflection", data={"csrf_token": token, "text": "   "}
    )
    assert r.status_code == 400
    text = page_text(r)
    assert "Saved. Thank you." not in text
    assert "Write what you noticed first, then tap Save." in text
    assert db.session().query(Reflection).count() == 0
    key = str(filmed.recording.cycle_id)
    r = client.post("/review/reflection", data={"csrf_token": token, "set": key, "text": ""})
    assert r.status_code == 400
    assert "Write what you noticed first, then tap Save." in page_text(r)

    # Emptying a saved note deletes it, and says so.
    url = f"/review/clips/{filmed.clip.id}/reflection"
    client.post(url, data={"csrf_token": token, "text": "We laughed."})
    r = client.post(url, data={"csrf_token": token, "text": ""}, follow_redirects=True)
    assert "Deleted what you wrote." in page_text(r)
    assert "Saved. Thank you." not in page_text(r)
    assert db.session().query(Reflection).count() == 0

"""What the practitioner reads is true: counts, states, titles, and the next step."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.conftest import csrf_token, page_text
from tests.media.conftest import Filmed
from tests.media.factories import add_clip, add_recording
from vigparent import clock, db
from vigparent.models import Cycle, Goal, GoalStatus


def test_publish_all_counts_only_clips_not_yet_shown(filmed: Filmed, login_as, client):
    add_clip(filmed.recording, published=False)  # the fixture's first clip is published
    login_as(filmed.practitioner)
    page = page_text(client.get(f"/practice/clips/families/{filmed.family.id}"))
    assert "Publish all 2 clips" not in page
    assert "Publish 1 more clip to the family" in page


def test_the_message_after_cutting_never_says_cutting_once_ready(filmed: Filmed, login_as, client):
    login_as(filmed.practitioner)
    url = f"/practice/clips/recordings/{filmed.recording.id}"
    token = csrf_token(client, url)
    r = client.post(
        url,
        data={
            "csrf_token": token,
            "title": "Smiles",
            "strength_note": "You smiled back.",
            "principle": "being_attentive",
            "position": 2,
            "start_s": "0.4",
            "end_s": "1.6",
        },
        follow_redirects=True,
    )
    page = page_text(r)
    assert "is being cut" not in page  # the job ran inline: the clip is ready
    assert "Clip 2 is ready." in page


def test_receipts_page_title_is_plain_text(filmed: Filmed, login_as, client):
    login_as(filmed.practitioner)
    html = client.get(f"/withdrawal/families/{filmed.family.id}/receipts").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and "<" not in title.group(1) and "Back to the family" not in title.group(1)
    assert "Back to the family" in html


def test_presentation_shows_the_goal_and_helping_question(filmed: Filmed, login_as, client):
    db.session().add(
        Goal(
            family_id=filmed.family.id,
            text="I'd like bath time to be calmer.",
            helping_question="What do I do that helps my child settle?",
            status=GoalStatus.AGREED,
            proposed_by_id=filmed.practitioner.id,
        )
    )
    db.session().commit()
    login_as(filmed.practitioner)
    page = page_text(client.get(f"/practice/clips/families/{filmed.family.id}/present"))
    assert "I'd like bath time to be calmer." in page
    assert "What do I do that helps my child settle?" in page


def test_caseload_flags_a_new_video_when_a_review_is_booked_and_links_to_it(
    filmed: Filmed, login_as, client
):
    cycle = db.session().get(Cycle, filmed.recording.cycle_id)
    assert cycle is not None
    cycle.review_at = clock.now() + timedelta(days=3)
    db.session().add(
        Goal(
            family_id=filmed.family.id,
            text="Calmer bath time.",
            status=GoalStatus.AGREED,
            proposed_by_id=filmed.practitioner.id,
        )
    )
    db.session().commit()
    login_as(filmed.practitioner)
    assert "A new video" not in page_text(client.get("/practice/"))
    new = add_recording(filmed.family, filmed.parent, cycle=cycle)
    html = client.get("/practice/").get_data(as_text=True)
    text = page_text(client.get("/practice/"))
    assert "A new video has arrived" in text and "Waiting for you" in text
    assert f'href="/practice/clips/recordings/{new.id}"' in html

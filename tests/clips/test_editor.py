"""The practitioner's recording page, clip form, cutting job, publishing and presentation."""

from __future__ import annotations

import json

import pytest
from flask import current_app

from tests.conftest import Factory, csrf_token, page_text
from tests.media.conftest import Filmed
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import db, media_store
from vigparent.clips import service
from vigparent.models import AuditEvent, Clip, ClipStatus, Principle, Recording, Reflection
from vigparent.video_sandbox import VideoLimits


def _form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "title": "You waited",
        "strength_note": "You waited, and Sam looked back at you.",
        "principle": "encouraging_initiatives",
        "position": 2,
        "start_s": "0.400",
        "end_s": "1.600",
    }
    data.update(overrides)
    return data


@pytest.fixture
def editor(filmed: Filmed, login_as, client):
    login_as(filmed.practitioner)
    url = f"/practice/clips/recordings/{filmed.recording.id}"
    return client, url, csrf_token(client, url)


def _clips(recording_id: int) -> list[Clip]:
    s = db.session()
    s.expire_all()
    rec = s.get(Recording, recording_id)
    assert rec is not None
    return list(rec.clips)


def test_recording_page_has_the_player_and_form(filmed: Filmed, editor):
    client, url, _ = editor
    r = client.get(url)
    assert r.status_code == 200
    html = page_text(r)
    assert f'src="/media/recordings/{filmed.recording.id}"' in html
    assert 'data-frame-rate="15.0"' in html
    for label in ("Set in (I)", "Set out (O)", "Preview the clip (P)", "−1 frame", "+1 s"):
        assert label in html
    for principle in Principle:
        assert principle.label in html
    # The next clip goes after the existing one by default.
    assert 'name="position" type="number" value="2"' in html or 'value="2"' in html
    assert "Keyboard shortcuts" in html


def test_cut_a_clip(filmed: Filmed, editor):
    client, url, token = editor
    r = client.post(url, data=_form(token, title="  Looking   back "))
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"{url}#clips")
    clip = _clips(filmed.recording.id)[-1]
    assert clip.title == "Looking back"
    assert clip.status is ClipStatus.READY  # the job ran inline
    assert (clip.start_s, clip.end_s, clip.position) == (0.4, 1.6, 2)
    assert clip.published_at is None  # a draft until published
    store = media_store.store()
    assert store.exists(clip.family_id, clip.media_name or "")
    assert store.exists(clip.family_id, clip.poster_name or "")
    page = page_text(client.get(url))
    assert "Clip 2 is ready." in page and "Looking back" in page
    actions = [e.action for e in db.session().query(AuditEvent)]
    assert "clip_created" in actions
    assert not any("Looking" in (e.detail or "") for e in db.session().query(AuditEvent))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Give the clip a short title."),
        ({"start_s": "1.6", "end_s": "1.0"}, "The end of the clip must come after its start."),
        ({"start_s": "1.0", "end_s": "1.2"}, "at least half a second long"),
        ({"start_s": "0.5", "end_s": "30"}, "after the end of the video"),
        ({"end_s": ""}, "Set the end of the clip (press O)."),
        ({"principle": "cuddles"}, "Not a valid choice"),
        ({"principle": ""}, "Choose the VIG principle"),
        ({"position": "0"}, "The order must be a number from 1 to 1000."),
        ({"start_s": "-1"}, "The start cannot be before the video begins."),
    ],
)
def test_form_problems_are_explained_and_nothing_is_cut(filmed: Filmed, editor, overrides, message):
    client, url, token = editor
    before = len(_clips(filmed.recording.id))
    r = client.post(url, data=_form(token, **overrides))
    assert r.status_code == 400
    assert message in page_text(r)
    assert len(_clips(filmed.recording.id)) == before


def test_status_endpoint(filmed: Filmed, editor):
    client, _, _ = editor
    cutting = add_clip(filmed.recording, cut=False, published=False)
    r = client.get(f"/practice/clips/{cutting.id}/status")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert json.loads(r.data) == {
        "id": cutting.id,
        "status": "cutting",
        "label": "Cutting…",
        "media": None,
        "poster": None,
    }
    ready = json.loads(client.get(f"/practice/clips/{filmed.clip.id}/status").data)
    assert ready["status"] == "ready"
    assert ready["media"] == f"/media/clips/{filmed.clip.id}"
    assert ready["poster"] == f"/media/clips/{filmed.clip.id}/poster"
    # While cutting, the page carries the polling hook and the publish button waits.
    html = page_text(client.get(f"/practice/clips/recordings/{filmed.recording.id}"))
    assert f'data-clip-poll="/practice/clips/{cutting.id}/status"' in html


def test_a_failed_cut_says_so_leaves_nothing_and_can_be_retried(
    filmed: Filmed, editor, monkeypatch
):
    client, url, token = editor
    store = media_store.store()
    before = set(store.names(filmed.family.id))
    settings = current_app.extensions["vig_settings"]
    # The video worker gets far too little memory for a cut: it fails for real.
    starved = settings.with_overrides(video_limits=VideoLimits(memory_bytes=32 * 1024**2))
    monkeypatch.setitem(current_app.extensions, "vig_settings", starved)
    client.post(url, data=_form(token))
    clip = _clips(filmed.recording.id)[-1]
    assert clip.status is ClipStatus.FAILED
    assert set(store.names(filmed.family.id)) == before  # no half-written clip left
    assert "Could not be cut" in page_text(client.get(url))
    # Publishing a failed clip is refused with a reason.
    r = client.post(f"/practice/clips/{clip.id}/publish", data={"csrf_token": token})
    assert "could not be cut" in page_text(client.get(r.headers["Location"]))

    monkeypatch.setitem(current_app.extensions, "vig_settings", settings)
    client.post(f"/practice/clips/{clip.id}/retry", data={"csrf_token": token})
    assert _clips(filmed.recording.id)[-1].status is ClipStatus.READY


def test_publish_and_unpublish(filmed: Filmed, editor, login_as):
    client, url, token = editor
    client.post(url, data=_form(token))
    clip = _clips(filmed.recording.id)[-1]
    r = client.post(f"/practice/clips/{clip.id}/publish", data={"csrf_token": token})
    assert r.status_code == 302
    db.session().expire_all()
    assert db.session().get(Clip, clip.id).published_at is not None  # type: ignore[union-attr]
    client.post(
        f"/practice/clips/{clip.id}/unpublish", data={"csrf_token": token, "return_to": "family"}
    )
    db.session().expire_all()
    assert db.session().get(Clip, clip.id).published_at is None  # type: ignore[union-attr]


def test_a_clip_still_cutting_cannot_be_published(filmed: Filmed, editor):
    client, _, token = editor
    cutting = add_clip(filmed.recording, cut=False, published=False)
    r = client.post(f"/practice/clips/{cutting.id}/publish", data={"csrf_token": token})
    assert "Wait until every clip has finished cutting" in page_text(
        client.get(r.headers["Location"])
    )
    db.session().expire_all()
    assert db.session().get(Clip, cutting.id).published_at is None  # type: ignore[union-attr]


def test_publish_a_whole_review_at_once(filmed: Filmed, editor):
    client, url, token = editor
    for n in range(2):
        client.post(url, data=_form(token, title=f"Moment {n}", position=n + 2))
    r = client.post(
        f"/practice/clips/families/{filmed.family.id}/publish",
        data={"csrf_token": token, "set": str(filmed.recording.cycle_id)},
    )
    assert r.status_code == 302
    assert "2 clips now shown to the family" in page_text(client.get(r.headers["Location"]))
    assert all(c.published_at for c in _clips(filmed.recording.id))


def test_change_words_only_keeps_the_cut(filmed: Filmed, editor):
    client, _, token = editor
    clip = filmed.clip
    old_media = clip.media_name
    url = f"/practice/clips/{clip.id}/edit"
    assert "Change clip 1" in page_text(client.get(url))
    r = client.post(
        url,
        data=_form(
            token,
            title="New words",
            start_s=f"{clip.start_s:.3f}",
            end_s=f"{clip.end_s:.3f}",
            position=1,
        ),
    )
    assert r.status_code == 302
    db.session().expire_all()
    changed = db.session().get(Clip, clip.id)
    assert changed is not None
    assert changed.title == "New words" and changed.media_name == old_media


def test_new_range_recuts_and_removes_the_old_files(filmed: Filmed, editor):
    client, _, token = editor
    clip = filmed.clip
    old = {clip.media_name, clip.poster_name}
    client.post(
        f"/practice/clips/{clip.id}/edit",
        data=_form(token, start_s="1.000", end_s="2.000", position=1),
    )
    db.session().expire_all()
    recut = db.session().get(Clip, clip.id)
    assert recut is not None and recut.status is ClipStatus.READY
    assert recut.media_name not in old
    names = set(media_store.store().names(filmed.family.id))
    assert not old & names


def test_a_stale_cut_is_thrown_away(filmed: Filmed, app_ctx):
    """A job for a range the practitioner has since changed must not overwrite the new one."""
    store = media_store.store()
    before = set(store.names(filmed.family.id))
    service.run_cut(filmed.clip.id, 0.1, 0.9)  # not the clip's current range
    db.session().expire_all()
    clip = db.session().get(Clip, filmed.clip.id)
    assert clip is not None and clip.media_name == filmed.clip.media_name
    assert set(store.names(filmed.family.id)) == before


def test_delete_removes_files_and_reflections(filmed: Filmed, editor):
    client, url, token = editor
    clip = filmed.clip
    clip_id, files = clip.id, {clip.media_name, clip.poster_name}
    db.session().add(
        Reflection(
            family_id=clip.family_id, clip_id=clip.id, author_id=filmed.parent.id, text="Nice"
        )
    )
    db.session().commit()
    r = client.post(f"/practice/clips/{clip_id}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    db.session().expire_all()
    assert db.session().get(Clip, clip_id) is None
    assert db.session().query(Reflection).count() == 0
    assert not files & set(media_store.store().names(filmed.family.id))


def test_family_overview(filmed: Filmed, editor, make: Factory):
    client, _, _ = editor
    add_recording(filmed.family, filmed.parent, cycle=add_cycle(filmed.family, 2), seconds=1.5)
    html = page_text(client.get(f"/practice/clips/families/{filmed.family.id}"))
    assert html.count("Make clips") >= 2
    assert "Review 1" in html and "You waited" in html
    assert "Shown to family" in html
    assert "Present these clips" in html


def test_presentation_mode_steps_through_ready_clips(filmed: Filmed, editor):
    client, _, _ = editor
    second = add_clip(filmed.recording, title="Second moment", position=2, published=False)
    add_clip(filmed.recording, title="Still cutting", position=3, cut=False)
    base = f"/practice/clips/families/{filmed.family.id}/present"
    first_page = page_text(client.get(base))
    assert "clip 1 of 2" in first_page and "You waited" in first_page
    assert f"clip={second.id}" in first_page and "Next clip" in first_page
    second_page = page_text(client.get(f"{base}?clip={second.id}"))
    assert "clip 2 of 2" in second_page and "Second moment" in second_page
    assert "Not yet shown to the family" in second_page
    assert "Still cutting" not in second_page


def test_presentation_with_no_clips(make: Factory, login_as, client):
    family = make.family()
    login_as(family.practitioner)
    r = client.get(f"/practice/clips/families/{family.id}/present")
    assert r.status_code == 200 and "No clips to present yet" in page_text(r)


def test_a_recording_not_ready_has_no_editor(make: Factory, login_as, client):
    from vigparent.models import RecordingStatus

    family = make.family()
    rec = add_recording(
        family, make.parent_of(family), transcode=False, status=RecordingStatus.PROCESSING
    )
    login_as(family.practitioner)
    assert client.get(f"/practice/clips/recordings/{rec.id}").status_code == 404
    assert "Being prepared" in page_text(client.get(f"/practice/clips/families/{family.id}"))


def test_a_cut_queued_before_a_withdrawal_touches_nothing(filmed: Filmed, app_ctx):
    from vigparent.models import Family, FamilyStatus

    cutting = add_clip(filmed.recording, cut=False, published=False)
    store = media_store.store()
    before = set(store.names(filmed.family.id))
    family = db.session().get(Family, filmed.family.id)
    assert family is not None
    family.status = FamilyStatus.WITHDRAWN
    db.session().commit()
    service.run_cut(cutting.id, cutting.start_s, cutting.end_s)
    assert set(store.names(filmed.family.id)) == before
    db.session().expire_all()
    assert db.session().get(Clip, cutting.id).media_name is None  # type: ignore[union-attr]

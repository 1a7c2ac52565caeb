"""Supervision: the family agrees, the practitioner shares chosen clips for a while, the
supervisor watches and comments and nothing else, and every way it ends really ends it."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import csrf_token, page_text
from tests.supervision.conftest import Supervised, agree, post, share, share_id_from
from tests.test_plain_words import assert_plain, page_words
from vigparent import db
from vigparent.clips import service as clip_service
from vigparent.families import service as families
from vigparent.models import (
    AuditEvent,
    Role,
    SupervisionComment,
    SupervisionShare,
    SupervisionShareClip,
    User,
)
from vigparent.withdrawal import service as withdrawal


def _count(model) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def test_no_share_before_every_carer_agrees(supervised: Supervised, make, as_user):
    s = supervised
    practitioner = as_user(s.practitioner)
    page = page_text(practitioner.get(f"/practice/families/{s.family.id}/supervision"))
    assert "has not agreed" in page
    response = share(practitioner, s)
    assert response.status_code == 400
    assert "Every carer must agree first" in page_text(response)

    assert agree(as_user(s.parent)).status_code == 303
    second = make.parent(s.family, name="Jo")  # a second carer who has not said yes
    assert share(practitioner, s).status_code == 400
    assert agree(as_user(second)).status_code == 303
    assert share(practitioner, s).status_code == 302
    assert _count(SupervisionShare) == 1


def test_supervisor_watches_and_comments_on_shared_clips_only(supervised: Supervised, as_user):
    s = supervised
    agree(as_user(s.parent))
    practitioner = as_user(s.practitioner)
    share_id = share_id_from(share(practitioner, s, days=7))
    supervisor = as_user(s.supervisor)

    home = supervisor.get("/practice/", follow_redirects=True)
    assert "Clips shared with you" in page_text(home)
    page = page_text(supervisor.get(f"/supervision/shares/{share_id}"))
    assert "You waited" in page and "Was I too quick" in page
    # The share shows clips and their notes, never the family.
    assert "Sam and Alex" not in page and "Alex" not in page.replace("You waited", "")
    assert "Kept back" not in page

    clip = supervisor.get(f"/media/clips/{s.shared_clip.id}", headers={"Range": "bytes=0-99"})
    assert clip.status_code == 206 and clip.headers["Cache-Control"] == "private, no-store"
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}/poster").status_code == 200
    for path in (
        f"/media/clips/{s.other_clip.id}",
        f"/media/clips/{s.shared_clip.id}/download",
        f"/media/recordings/{s.recording.id}",
        f"/media/recordings/{s.recording.id}/poster",
        f"/practice/families/{s.family.id}",
        f"/practice/clips/families/{s.family.id}",
        f"/practice/clips/{s.shared_clip.id}/status",
        f"/withdrawal/families/{s.family.id}/receipts",
        "/home/",
        "/consent/privacy",
    ):
        assert supervisor.get(path).status_code == 404, path

    path = f"/supervision/shares/{share_id}/clips/{s.shared_clip.id}/comments"
    empty = post(supervisor, path, {"text": "  "}, page=f"/supervision/shares/{share_id}")
    assert empty.status_code == 400 and "Write your comment first" in page_text(empty)
    said = "Lovely pause at 0:03. What did you notice in yourself?"
    assert post(supervisor, path, {"text": said}, page="/supervision/").status_code == 302
    other = f"/supervision/shares/{share_id}/clips/{s.other_clip.id}/comments"
    assert post(supervisor, other, {"text": "x"}, page="/supervision/").status_code == 404

    mine = page_text(practitioner.get(f"/practice/families/{s.family.id}/supervision"))
    assert said in mine and "Sue Supervisor" in mine
    # Audit says who and what, never the comment itself.
    details = " ".join(db.session().scalars(select(AuditEvent.detail)))
    assert "supervision_comment_added" in {
        a for a in db.session().scalars(select(AuditEvent.action))
    }
    assert "Lovely" not in details


def test_the_parent_sees_who_has_their_clips_and_until_when(
    supervised: Supervised, as_user, frozen_clock
):
    s = supervised
    parent = as_user(s.parent)
    agree(parent)
    share(as_user(s.practitioner), s, days=14)
    page = page_text(parent.get("/consent/privacy"))
    assert "Your clips are shared with Sue Supervisor until Wednesday 9 December" in page
    assert "My practitioner may show some of my clips to the person who teaches them VIG" in page


def test_a_share_ends_when_it_expires(supervised: Supervised, as_user, frozen_clock):
    s = supervised
    parent = as_user(s.parent)
    agree(parent)
    share_id = share_id_from(share(as_user(s.practitioner), s, days=7))
    frozen_clock(days=6, hours=23)
    # Staff sessions end after hours idle: the supervisor signs in again each time.
    assert as_user(s.supervisor).get(f"/media/clips/{s.shared_clip.id}").status_code == 200
    frozen_clock(hours=1)
    supervisor = as_user(s.supervisor)
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}").status_code == 404
    assert supervisor.get(f"/supervision/shares/{share_id}").status_code == 404
    assert "Nothing is shared with you" in page_text(supervisor.get("/supervision/"))
    assert "Your clips are shared" not in page_text(parent.get("/consent/privacy"))


def test_taking_back_the_consent_ends_every_share_at_once(supervised: Supervised, as_user):
    s = supervised
    parent = as_user(s.parent)
    agree(parent)
    practitioner = as_user(s.practitioner)
    share_id_from(share(practitioner, s, days=30))
    supervisor = as_user(s.supervisor)
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}").status_code == 200

    taken = post(parent, "/consent/supervision/withdraw", page="/consent/privacy")
    assert taken.status_code == 303
    assert "Your clips are not shown to anyone else now" in page_text(
        parent.get("/consent/privacy")
    )
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}").status_code == 404
    assert "took back their agreement" in page_text(
        practitioner.get(f"/practice/families/{s.family.id}/supervision")
    )
    # The clips themselves stay for the family's own work.
    assert as_user(s.parent).get(f"/media/clips/{s.shared_clip.id}").status_code == 200


def _shared_and_commented(s: Supervised, as_user) -> None:
    agree(as_user(s.parent))
    share_id = share_id_from(
        share(as_user(s.practitioner), s, clips=[s.shared_clip.id, s.other_clip.id])
    )
    supervisor = as_user(s.supervisor)
    for clip in (s.shared_clip, s.other_clip):
        path = f"/supervision/shares/{share_id}/clips/{clip.id}/comments"
        post(supervisor, path, {"text": f"About {clip.title}"}, page="/supervision/")
    assert _count(SupervisionComment) == 2


def test_full_withdrawal_deletes_shares_and_comments(supervised: Supervised, as_user):
    s = supervised
    _shared_and_commented(s, as_user)
    withdrawal.withdraw_consent(s.family, s.parent)
    assert (_count(SupervisionShare), _count(SupervisionShareClip), _count(SupervisionComment)) == (
        0,
        0,
        0,
    )
    assert as_user(s.supervisor).get(f"/media/clips/{s.shared_clip.id}").status_code == 404


def test_retention_deletes_shares_and_comments(supervised: Supervised, as_user):
    s = supervised
    _shared_and_commented(s, as_user)
    withdrawal.delete_family_media(s.family, None, withdrawal.Reason.RETENTION)
    assert (_count(SupervisionShare), _count(SupervisionShareClip), _count(SupervisionComment)) == (
        0,
        0,
        0,
    )


def test_deleting_one_recording_deletes_its_clips_comments(supervised: Supervised, as_user):
    s = supervised
    _shared_and_commented(s, as_user)
    withdrawal.delete_recording(s.recording, s.parent)
    assert (_count(SupervisionShareClip), _count(SupervisionComment)) == (0, 0)
    assert _count(SupervisionShare) == 1  # an empty share: it shows nothing any more


def test_the_practitioner_ends_a_share_early(supervised: Supervised, as_user):
    s = supervised
    agree(as_user(s.parent))
    practitioner = as_user(s.practitioner)
    share_id = share_id_from(share(practitioner, s))
    page = f"/practice/families/{s.family.id}/supervision"
    assert post(practitioner, f"{page}/{share_id}/end", page=page).status_code == 302
    assert as_user(s.supervisor).get(f"/media/clips/{s.shared_clip.id}").status_code == 404


def test_wrong_choices_say_what_to_fix_and_share_nothing(supervised: Supervised, as_user):
    s = supervised
    agree(as_user(s.parent))
    practitioner = as_user(s.practitioner)
    for days, clips, words in (
        (3, [s.shared_clip.id], "7, 14 or 30 days"),
        (7, [], "at least one finished clip"),
        (7, [999999], "at least one finished clip"),
    ):
        response = share(practitioner, s, days=days, clips=clips)
        assert response.status_code == 400 and words in page_text(response)
    assert _count(SupervisionShare) == 0


def test_what_the_parent_reads_about_supervision_is_plain(supervised: Supervised, as_user):
    s = supervised
    s.supervisor.display_name = "Sue Lee"  # a name scores as a name, not as words
    db.session().commit()
    parent = as_user(s.parent)
    texts = page_words(page_text(parent.get("/consent/privacy")))
    agreed = parent.post(
        "/consent/supervision",
        data={"csrf_token": csrf_token(parent, "/consent/privacy")},
        follow_redirects=True,
    )
    texts += page_words(page_text(agreed))
    share(as_user(s.practitioner), s)
    texts += page_words(page_text(parent.get("/consent/privacy")))
    taken = parent.post(
        "/consent/supervision/withdraw",
        data={"csrf_token": csrf_token(parent, "/consent/privacy")},
        follow_redirects=True,
    )
    texts += page_words(page_text(taken))
    assert any("Your clips are shared with Sue Lee until" in t for t in texts)
    assert_plain(texts)


def test_an_operator_creates_a_supervisor_who_cannot_hold_a_caseload(app, app_ctx):
    def vig(*args: str):
        return app.test_cli_runner().invoke(args=["vig", *args])

    made = vig(
        "create-supervisor", "Sue@Example.org", "--password", "long enough pw", "--name", "Sue"
    )
    assert made.exit_code == 0, made.output
    assert "Created supervisor sue@example.org" in made.output
    again = vig("create-supervisor", "sue@example.org", "--password", "long enough pw")
    assert again.exit_code != 0 and "already has an account" in again.output
    weak = vig("create-supervisor", "x@example.org", "--password", "short")
    assert weak.exit_code != 0
    family = vig("create-family", "--practitioner", "sue@example.org", "Sam")
    assert family.exit_code != 0 and "No practitioner" in family.output
    user = db.session().scalar(select(User).where(User.email == "sue@example.org"))
    assert user is not None and user.role is Role.SUPERVISOR


def test_erasing_the_family_erases_its_shares_and_comments(supervised: Supervised, make, as_user):
    s = supervised
    _shared_and_commented(s, as_user)
    admin = make.practitioner(organisation=s.family.organisation, role=Role.ADMIN)
    withdrawal.erase_family(s.family, admin)
    assert (_count(SupervisionShare), _count(SupervisionShareClip), _count(SupervisionComment)) == (
        0,
        0,
        0,
    )
    assert db.session().get(User, s.supervisor.id) is not None  # the supervisor's account stays


def test_deleting_a_shared_clip_deletes_it_from_the_share(supervised: Supervised, as_user):
    s = supervised
    _shared_and_commented(s, as_user)
    clip_service.delete_clip(s.shared_clip, s.practitioner)
    assert (_count(SupervisionShareClip), _count(SupervisionComment)) == (1, 1)
    share_id = db.session().scalar(select(SupervisionShare.id))
    page = page_text(as_user(s.supervisor).get(f"/supervision/shares/{share_id}"))
    assert ">Kept back</h2>" in page and ">You waited</h2>" not in page


def test_after_the_case_closes_the_parent_can_still_take_it_back(supervised: Supervised, as_user):
    s = supervised
    parent = as_user(s.parent)
    agree(parent)
    share(as_user(s.practitioner), s)
    families.close_case(s.family, s.practitioner)
    page = page_text(parent.get("/consent/privacy"))
    assert "Stop showing my clips" in page
    assert post(parent, "/consent/supervision/withdraw", page="/consent/privacy").status_code == 303
    assert as_user(s.supervisor).get(f"/media/clips/{s.shared_clip.id}").status_code == 404
    # A closed case is not asked again.
    assert "Yes, they may show my clips" not in page_text(parent.get("/consent/privacy"))


def test_a_supervisor_can_look_after_their_own_sign_in_security(supervised: Supervised, as_user):
    supervisor = as_user(supervised.supervisor)
    assert supervisor.get("/account/security").status_code == 200
    assert supervisor.get("/practice/").headers["Location"].endswith("/supervision/")

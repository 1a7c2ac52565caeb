"""Withdrawal deletes a family's media everywhere, durably, and nothing of anyone else's."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory
from tests.withdrawal.conftest import (
    FamilyMedia,
    assert_family_gone,
    files_named,
    files_of_family,
    readable_digest,
    rows_mentioning,
)
from vigparent import audit, db, media_store, video
from vigparent.db import Base
from vigparent.families import service as families
from vigparent.models import (
    AuditEvent,
    ConsentRecord,
    DeletionReceipt,
    Family,
    FamilyStatus,
    Invitation,
    Reflection,
    Role,
    User,
)
from vigparent.recordings import service as recordings
from vigparent.storage import MediaKeyDestroyed
from vigparent.withdrawal import service, words


def test_withdrawal_leaves_no_file_or_row_and_spares_the_other_family(
    app: Flask, with_media, frozen_clock
) -> None:
    mine: FamilyMedia = with_media(recordings=2, clips=2)
    theirs: FamilyMedia = with_media(recordings=1, clips=1, real=True)
    db.session().add(
        Reflection(
            family_id=mine.id,
            clip_id=mine.clips[0].id,
            author_id=mine.parent.id,
            text="I saw how I waited for Sam.",
        )
    )
    db.session().commit()
    tokens = mine.tokens()
    assert len(mine.names()) == 2 * 3 + 4 * 2  # original, transcode, poster; clip + poster
    assert files_of_family(app, mine.id, tokens)
    theirs_before = readable_digest(theirs)

    frozen_clock(minutes=2)  # 12:02 UTC on 25 November
    receipt = service.withdraw_consent(mine.family, mine.parent)

    assert receipt.completed_at is not None and receipt.key_destroyed
    assert (receipt.recordings, receipt.clips, receipt.files) == (2, 4, 14)
    assert receipt.bytes > 0
    assert words.receipt_sentence(receipt) == (
        "We deleted 2 videos and 4 clips on Wednesday 25 November at 12:02pm."
    )
    assert_family_gone(app, mine, tokens)
    s = db.session()
    family = s.get(Family, mine.id)
    assert family is not None
    assert family.status is FamilyStatus.WITHDRAWN and family.media_deleted_at is not None
    assert s.scalars(select(Reflection).where(Reflection.family_id == mine.id)).all() == []
    consents = s.scalars(select(ConsentRecord).where(ConsentRecord.family_id == mine.id)).all()
    assert consents and all(c.withdrawn_at is not None for c in consents)
    actions = s.scalars(select(AuditEvent.action).where(AuditEvent.family_id == mine.id)).all()
    assert "consent_withdrawn" in actions and "media_deleted" in actions
    # The account stays, only to show the receipt.
    assert s.get(User, mine.parent.id) is not None

    # The other family: every blob untouched and still plays.
    assert readable_digest(theirs) == theirs_before
    store = media_store.store()
    with store.open(theirs.id, theirs.recordings[0].transcode_name) as f:
        assert video.inspect(f).duration > 1
    with store.open(theirs.id, theirs.clips[0].media_name) as f:
        assert video.inspect(f, min_seconds=0.1).duration > 0.2


def test_a_second_tap_changes_nothing_and_returns_the_same_receipt(with_media) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    first = service.withdraw_consent(fm.family, fm.parent)
    second = service.withdraw_consent(fm.family, fm.parent)
    assert second.id == first.id
    assert db.session().scalars(select(DeletionReceipt)).all() == [first]
    done = (
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == "media_deleted")).all()
    )
    assert len(done) == 1


def test_no_new_key_or_file_can_appear_after_withdrawal(app: Flask, with_media) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    service.withdraw_consent(fm.family, fm.parent)
    store = media_store.store()
    # A job that was still running, writing its output: refused, and no directory is left.
    with pytest.raises(MediaKeyDestroyed):
        store.create(fm.id, store.new_name("mp4"))
    with pytest.raises(MediaKeyDestroyed):
        store.open(fm.id, store.new_name("poster"), "w")
    assert files_of_family(app, fm.id, set()) == []
    assert fm.id not in store.families()
    assert not service.media_allowed(fm.id)


def test_invitations_are_revoked_and_uploads_refused(make: Factory, with_media) -> None:
    from vigparent.invitations import service as invitations

    fm: FamilyMedia = with_media(recordings=0)
    invitation, _token = invitations.issue_invitation(fm.family, fm.family.practitioner, "Grandma")
    db.session().commit()
    service.withdraw_consent(fm.family, fm.parent)
    db.session().expire_all()
    assert db.session().get(Invitation, invitation.id).revoked_at is not None
    with pytest.raises(recordings.ConsentWithdrawn):
        recordings.check_may_record(db.session().get(Family, fm.id))


def test_filming_only_keeps_media_but_refuses_new_recordings(with_media) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=1)
    before = readable_digest(fm)
    assert service.withdraw_filming_only(fm.family, fm.parent) is True
    assert service.withdraw_filming_only(fm.family, fm.parent) is False  # idempotent
    family = db.session().get(Family, fm.id)
    with pytest.raises(recordings.ConsentWithdrawn):
        recordings.check_may_record(family)
    assert family.status is FamilyStatus.ACTIVE
    assert readable_digest(fm) == before
    assert service.filming_withdrawn(family)
    assert words.family_status_words(family) == (
        "Filming consent withdrawn: no new recordings. Existing media kept."
    )


def test_deleting_one_recording_takes_its_clips_and_files_only(app: Flask, with_media) -> None:
    fm: FamilyMedia = with_media(recordings=2, clips=2)
    gone, kept = fm.recordings
    gone_tokens = {n for n in (gone.original_name, gone.transcode_name, gone.poster_name) if n}
    gone_tokens |= {n for c in gone.clips for n in (c.media_name, c.poster_name) if n}
    gone_tokens.add(gone.upload_id)
    kept_fm = FamilyMedia(fm.family, fm.parent, [kept], list(kept.clips))
    kept_before = readable_digest(kept_fm)

    receipt = service.delete_recording(gone, fm.parent)

    assert (receipt.recordings, receipt.clips, receipt.files) == (1, 2, 7)
    assert receipt.completed_at is not None and not receipt.key_destroyed
    assert files_named(app, gone_tokens) == []
    assert len(media_store.store().names(fm.id)) == 7  # the kept recording's files
    assert rows_mentioning(gone_tokens) == []
    assert readable_digest(kept_fm) == kept_before
    assert db.session().get(Family, fm.id).status is FamilyStatus.ACTIVE
    assert words.receipt_sentence(receipt).startswith("We deleted 1 video and 2 clips on ")


def test_withdrawing_a_family_with_nothing_says_so_plainly(with_media, frozen_clock) -> None:
    fm: FamilyMedia = with_media(recordings=0)
    receipt = service.withdraw_consent(fm.family, fm.parent)
    assert words.receipt_sentence(receipt) == (
        "We had no videos or clips of yours to delete. We checked on Wednesday 25 November at 12pm."
    )


def test_receipt_words_use_uk_time_and_say_the_year_only_when_needed(frozen_clock) -> None:
    from datetime import datetime

    r = DeletionReceipt(family_id=1, reason="withdrawn", recordings=3, clips=5)
    r.completed_at = datetime(2026, 7, 1, 13, 2)  # BST: 14:02 in the UK
    assert (
        words.receipt_sentence(r)
        == "We deleted 3 videos and 5 clips on Wednesday 1 July at 2:02pm."
    )
    r.recordings, r.clips = 1, 1
    r.completed_at = datetime(2025, 12, 24, 9, 5)
    assert words.receipt_sentence(r) == (
        "We deleted 1 video and 1 clip on Wednesday 24 December 2025 at 9:05am."
    )
    r.completed_at = None
    assert words.receipt_sentence(r).startswith("We are deleting 1 video and 1 clip.")


def test_admin_erases_a_family_entirely(app: Flask, make: Factory, with_media) -> None:
    org = make.organisation()
    practitioner = make.practitioner(organisation=org)
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    fm: FamilyMedia = with_media(recordings=1, clips=1, practitioner=practitioner)
    theirs: FamilyMedia = with_media(recordings=1, clips=0, practitioner=practitioner)
    theirs_before = readable_digest(theirs)
    tokens = fm.tokens()
    family_id, parent_id = fm.id, fm.parent.id
    audit.record("something", actor=fm.parent, family=fm.family)
    db.session().commit()

    with pytest.raises(service.WithdrawalError):
        service.erase_family(fm.family, practitioner)
    receipt = service.erase_family(fm.family, admin)

    assert receipt.completed_at is not None and receipt.reason == "erased"
    assert receipt.organisation_id == org.id
    s = db.session()
    s.expire_all()
    assert s.get(Family, family_id) is None
    assert s.get(User, parent_id) is None
    for table in ("consent_record", "invitation", "goal", "cycle", "recording", "clip"):
        t = Base.metadata.tables[table]
        assert s.execute(select(t).where(t.c.family_id == family_id)).all() == []
    assert files_of_family(app, family_id, tokens) == []
    assert rows_mentioning(tokens) == []
    assert s.get(DeletionReceipt, receipt.id) is not None  # the receipt outlives the family
    assert s.scalars(select(AuditEvent).where(AuditEvent.family_id == family_id)).all()
    assert readable_digest(theirs) == theirs_before


def test_closing_a_case_refuses_uploads_and_names_the_deletion_date(
    make: Factory, with_media, frozen_clock
) -> None:
    fm: FamilyMedia = with_media(recordings=1, clips=0)
    due = families.close_case(fm.family, fm.family.practitioner)
    family = db.session().get(Family, fm.id)
    assert family.status is FamilyStatus.CLOSED
    assert due == family.closed_at + timedelta(days=30)
    with pytest.raises(recordings.FamilyClosed):
        recordings.check_may_record(family)
    with pytest.raises(families.CaseNotOpen):
        families.close_case(family, family.practitioner)
    assert words.family_status_words(family) == (
        "Case closed. Media will be deleted on Friday 25 December at 12pm."
    )


def test_media_sha_check_uses_real_bytes(with_media) -> None:
    """Sanity check of the scan helpers: a digest really reads (decrypts) the media."""
    fm: FamilyMedia = with_media(recordings=1, clips=0, real=True)
    store = media_store.store()
    name = fm.recordings[0].transcode_name
    with store.open(fm.id, name) as f:
        data = f.read()
    assert readable_digest(fm)[name] == hashlib.sha256(data).hexdigest()
    assert video.sniff_container(io.BytesIO(data).read(64)) == "mp4"

"""The one next-step rule, filming plans, and the parent's home screen."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Factory
from tests.invitations.conftest import csrf_token, page_text
from vigparent import db
from vigparent.families import service
from vigparent.families.service import FilmingPlan, Waiting
from vigparent.goals import service as goal_service
from vigparent.models import (
    Clip,
    ClipStatus,
    Family,
    FamilyStatus,
    FilmingPlace,
    Principle,
    Recording,
    RecordingStatus,
    Role,
    User,
)

# The frozen clock says Wednesday 25 November 2026, noon UTC.
THURSDAY = date(2026, 12, 3)


def _agreed_goal(family: Family) -> None:
    goal = goal_service.propose_goal(family, family.practitioner, "Calmer bath time", "What helps?")
    goal_service.agree_goal(goal, _parent(family), goal_service.latest_revision(goal).id)
    db.session().commit()


def _parent(family: Family) -> User:
    user = db.session().scalar(
        select(User).where(User.family_id == family.id, User.role == Role.PARENT)
    )
    assert user is not None
    return user


def _plan(family: Family, **kw) -> None:
    plan = FilmingPlan(
        film_by=kw.pop("film_by", THURSDAY),
        place=kw.pop("place", FilmingPlace.HOME),
        activity=kw.pop("activity", "bath time"),
        **kw,
    )
    service.plan_cycle(family, family.practitioner, plan)
    db.session().commit()


def _recording(family: Family, status: RecordingStatus, cycle_id: int | None = None) -> Recording:
    rec = Recording(
        family_id=family.id,
        cycle_id=cycle_id,
        uploaded_by_id=_parent(family).id,
        client_id=secrets.token_hex(8),
        upload_id=secrets.token_hex(8),
        declared_size=1000,
        original_name=secrets.token_hex(8),
        status=status,
    )
    db.session().add(rec)
    db.session().commit()
    return rec


def _clip(family: Family, rec: Recording, published: bool) -> Clip:
    clip = Clip(
        family_id=family.id,
        recording_id=rec.id,
        title="Sam laughs",
        principle=Principle.BEING_ATTENTIVE,
        start_s=1,
        end_s=5,
        status=ClipStatus.READY,
        published_at=datetime(2026, 11, 26) if published else None,
    )
    db.session().add(clip)
    db.session().commit()
    return clip


def test_each_stage_says_one_plain_sentence_for_each_side(make: Factory, frozen_clock):
    practitioner = make.practitioner()
    from vigparent.families.service import start_family

    invited, _inv, _token = start_family(practitioner, "New")
    db.session().commit()
    step = service.next_step(invited)
    assert step.stage == "invited" and step.waiting_on is Waiting.FAMILY
    assert "Waiting for the family to open their link" in step.for_practitioner

    family = make.family(practitioner)
    assert service.next_step(family).stage == "goal_needed"

    goal = goal_service.propose_goal(family, practitioner, "Calmer bath time")
    db.session().commit()
    step = service.next_step(family)
    assert step.stage == "goal_for_parent" and step.waiting_on is Waiting.FAMILY
    assert step.for_parent == "Read your goal and tell your practitioner if it feels right."

    goal_service.edit_goal(
        goal, _parent(family), "Calmer bedtime", "", goal_service.latest_revision(goal).id
    )
    db.session().commit()
    step = service.next_step(family)
    assert step.stage == "goal_for_practitioner" and step.waiting_on is Waiting.PRACTITIONER

    goal_service.agree_goal(goal, practitioner, goal_service.latest_revision(goal).id)
    db.session().commit()
    step = service.next_step(family)
    assert step.stage == "plan_needed"
    assert step.for_parent == "Your practitioner will plan a time to film with you."

    _plan(family, review_on=date(2026, 12, 10), review_time=time(10, 0))
    step = service.next_step(family)
    assert step.for_parent == "Film bath time before Thursday 3 December."
    assert step.waiting_on is Waiting.FAMILY

    cycle = service.current_cycle(family)
    assert cycle is not None
    rec = _recording(family, RecordingStatus.UPLOADING, cycle.id)
    assert service.next_step(family).stage == "sending"
    rec.status = RecordingStatus.RECEIVED
    db.session().commit()
    step = service.next_step(family)
    assert step.for_parent == "Your practitioner is watching your video."
    assert step.waiting_on is Waiting.PRACTITIONER

    clip = _clip(family, rec, published=False)
    assert service.next_step(family).for_parent == "Your practitioner is choosing clips."

    clip.published_at = datetime(2026, 11, 26)
    db.session().commit()
    step = service.next_step(family)
    # 10am UK time in December is 10:00 UTC; stored in UTC, said in UK time.
    assert step.for_parent == "Your review is on Thursday 10 December at 10am."

    frozen_clock(datetime(2026, 12, 11, 9))
    step = service.next_step(family)
    assert step.stage == "reviewed" and step.waiting_on is Waiting.PRACTITIONER

    # The next cycle starts over with filming.
    _plan(family, film_by=date(2026, 12, 18), activity="play time")
    assert service.next_step(family).for_parent == "Film play time before Friday 18 December."


def test_unassigned_uploads_after_the_plan_count_for_it(make: Factory, frozen_clock):
    family = make.family()
    _agreed_goal(family)
    _plan(family)
    _recording(family, RecordingStatus.PROCESSING, cycle_id=None)
    assert service.next_step(family).stage == "watching"


def test_rejected_video_asks_to_film_again(make: Factory, frozen_clock):
    family = make.family()
    _agreed_goal(family)
    _plan(family)
    _recording(family, RecordingStatus.REJECTED, service.current_cycle(family).id)  # type: ignore[union-attr]
    step = service.next_step(family)
    assert step.for_parent == (
        "Your video did not work, sorry. Film bath time before Thursday 3 December."
    )


def test_filming_dates_today_and_overdue(make: Factory, frozen_clock):
    family = make.family()
    _agreed_goal(family)
    _plan(family, film_by=date(2026, 11, 25))
    assert service.next_step(family).for_parent == "Film bath time today if you can."
    frozen_clock(days=2)
    step = service.next_step(family)
    assert step.for_parent == (
        "Film bath time when you can. We planned it for Wednesday 25 November."
    )
    assert step.waiting_on is Waiting.PRACTITIONER and "Check in" in step.for_practitioner


def test_ended_families(make: Factory):
    closed = make.family(status=FamilyStatus.CLOSED)
    withdrawn = make.family(status=FamilyStatus.WITHDRAWN)
    assert service.next_step(closed).stage == "closed"
    assert service.next_step(withdrawn).stage == "withdrawn"
    assert service.next_step(withdrawn).waiting_on is Waiting.PRACTITIONER  # close the case


def test_expired_invitations_ask_the_practitioner_for_a_new_link(make: Factory, frozen_clock):
    from vigparent.families.service import start_family

    family, _i, _t = start_family(make.practitioner(), "New")
    db.session().commit()
    frozen_clock(days=15)
    step = service.next_step(family)
    assert step.stage == "invite_needed" and step.waiting_on is Waiting.PRACTITIONER


def test_plans_refuse_past_dates_and_reviews_before_filming(make: Factory, frozen_clock):
    family = make.family()
    with pytest.raises(service.InvalidPlan):
        _plan(family, film_by=date(2026, 11, 24))
    with pytest.raises(service.InvalidPlan):
        _plan(family, review_on=date(2026, 12, 1))
    with pytest.raises(service.InvalidPlan):
        _plan(family, review_time=time(9, 0))
    closed = make.family(status=FamilyStatus.CLOSED)
    with pytest.raises(service.FamilyNotOpen):
        _plan(closed)


def test_review_time_is_uk_local_time(make: Factory, frozen_clock):
    frozen_clock(datetime(2027, 6, 1, 12))
    family = make.family()
    _plan(
        family,
        film_by=date(2027, 6, 3),
        review_on=date(2027, 6, 10),
        review_time=time(14, 30),
    )
    cycle = service.current_cycle(family)
    assert cycle is not None and cycle.review_at == datetime(2027, 6, 10, 13, 30)  # BST
    assert service.say_when(cycle.review_at) == "Thursday 10 June at 2:30pm"
    assert service.plan_of(cycle).review_time == time(14, 30)


# --- pages ----------------------------------------------------------------------------------


def test_practitioner_plans_and_changes_filming_in_the_form(
    client, make: Factory, login_as, frozen_clock
):
    family = make.family()
    _agreed_goal(family)
    login_as(family.practitioner)
    token = csrf_token(client, f"/practice/families/{family.id}/plan")
    r = client.post(
        f"/practice/families/{family.id}/plan",
        data={
            "csrf_token": token,
            "activity": "bath time",
            "film_by": "2026-12-03",
            "place": "home",
            "note": "Five minutes is plenty.",
            "review_on": "2026-12-10",
            "review_time": "10:00",
        },
    )
    assert r.status_code == 302, page_text(r)
    page = page_text(client.get(f"/practice/families/{family.id}"))
    assert "Film bath time before Thursday 3 December." in page
    assert "Thursday 10 December at 10am" in page

    cycle = service.current_cycle(family)
    assert cycle is not None
    form = page_text(client.get(f"/practice/families/{family.id}/cycles/{cycle.id}"))
    assert 'value="2026-12-03"' in form and 'value="10:00"' in form
    r = client.post(
        f"/practice/families/{family.id}/cycles/{cycle.id}",
        data={"csrf_token": token, "activity": "play", "film_by": "2026-12-04", "place": "park"},
    )
    assert r.status_code == 302
    db.session().expire_all()
    cycle = service.current_cycle(family)
    assert cycle is not None
    assert (cycle.activity, cycle.place, cycle.review_at) == ("play", FilmingPlace.PARK, None)

    r = client.post(
        f"/practice/families/{family.id}/plan",
        data={"csrf_token": token, "activity": "x", "film_by": "2026-11-01", "place": "home"},
    )
    assert r.status_code == 400 and "already passed" in page_text(r)


def test_parent_home_always_says_what_happens_next(
    app: Flask, make: Factory, login_as, frozen_clock
):
    family = make.family()
    client = app.test_client()
    login_as(_parent(family), on=client)
    assert "Think about what you would like to be different" in page_text(client.get("/home/"))
    _agreed_goal(family)
    _plan(family, note="Any ordinary evening.", review_on=date(2026, 12, 10))
    home = page_text(client.get("/home/"))
    for words in (
        "Film bath time before Thursday 3 December.",
        "At home",
        "Any ordinary evening.",
        "Thursday 10 December at 10am",
        "Calmer bath time",
        "What helps?",
    ):
        assert words in home, words


def test_parent_home_of_another_family_is_never_shown(app: Flask, make: Factory, login_as):
    mine, theirs = make.family(label="Mine"), make.family(label="Theirs")
    goal_service.propose_goal(theirs, theirs.practitioner, "Their goal")
    _plan(theirs, activity="their secret activity")
    client = app.test_client()
    login_as(_parent(mine), on=client)
    home = page_text(client.get("/home/"))
    assert "Their goal" not in home and "their secret activity" not in home

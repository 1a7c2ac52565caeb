"""Goals: either side proposes and edits; agreed only when both agree the same words."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Factory
from tests.invitations.conftest import csrf_token, page_text
from vigparent import db
from vigparent.goals import service
from vigparent.models import FamilyStatus, Goal, GoalRevision, GoalStatus


def _reload(goal: Goal) -> Goal:
    db.session().expire_all()
    fresh = db.session().get(Goal, goal.id)
    assert fresh is not None
    return fresh


# --- the rules ------------------------------------------------------------------------------


def test_agreed_only_when_both_sides_agree_the_same_words(make: Factory, frozen_clock):
    family = make.family()
    parent, practitioner = make.parent_of(family), family.practitioner
    goal = service.propose_goal(family, practitioner, "Calmer bath time", "What helps Sam?")
    assert goal.status is GoalStatus.PROPOSED
    assert goal.practitioner_agreed_at is not None and goal.parent_agreed_at is None

    rev = service.latest_revision(goal)
    service.agree_goal(goal, parent, rev.id)
    assert goal.status is GoalStatus.AGREED
    assert service.latest_revision(goal).agreed_at == frozen_clock()


def test_an_edit_resets_the_other_sides_agreement_and_keeps_history(make: Factory, frozen_clock):
    family = make.family()
    parent, practitioner = make.parent_of(family), family.practitioner
    goal = service.propose_goal(family, practitioner, "Calmer bath time", "What helps Sam?")
    service.agree_goal(goal, parent, service.latest_revision(goal).id)
    assert goal.status is GoalStatus.AGREED
    db.session().commit()

    frozen_clock(days=1)
    service.edit_goal(
        goal, parent, "Bath time without tears", "What helps Sam?", service.latest_revision(goal).id
    )
    assert goal.status is GoalStatus.PROPOSED
    assert goal.parent_agreed_at is not None and goal.practitioner_agreed_at is None
    service.agree_goal(goal, practitioner, service.latest_revision(goal).id)
    assert goal.status is GoalStatus.AGREED
    db.session().commit()

    history = service.history(goal)
    assert [r.text for r in history] == ["Bath time without tears", "Calmer bath time"]
    assert all(r.agreed_at is not None for r in history)  # both wordings were agreed in turn


def test_saving_the_same_words_is_agreeing_them(make: Factory):
    family = make.family()
    parent = make.parent_of(family)
    goal = service.propose_goal(family, family.practitioner, "Calmer bath time")
    rev = service.latest_revision(goal)
    service.edit_goal(goal, parent, "  Calmer   bath time ", "", rev.id)
    assert goal.status is GoalStatus.AGREED
    assert len(service.history(goal)) == 1


def test_agreeing_words_that_changed_meanwhile_is_refused(make: Factory):
    family = make.family()
    parent, practitioner = make.parent_of(family), family.practitioner
    goal = service.propose_goal(family, practitioner, "Calmer bath time")
    seen = service.latest_revision(goal).id
    service.edit_goal(goal, practitioner, "Calmer bedtime", "", seen)
    with pytest.raises(service.GoalChanged):
        service.agree_goal(goal, parent, seen)
    with pytest.raises(service.GoalChanged):
        service.edit_goal(goal, parent, "Something else", "", seen)
    assert goal.parent_agreed_at is None


def test_any_carer_speaks_for_the_parent_side(make: Factory):
    family = make.family()
    second = make.parent(family, "Jordan")
    goal = service.propose_goal(family, family.practitioner, "Calmer bath time")
    service.agree_goal(goal, second, service.latest_revision(goal).id)
    assert goal.status is GoalStatus.AGREED


def test_goal_words_must_be_present_and_short(make: Factory):
    family = make.family()
    with pytest.raises(service.InvalidGoal):
        service.propose_goal(family, family.practitioner, "   ")
    with pytest.raises(service.InvalidGoal):
        service.propose_goal(family, family.practitioner, "x" * 501)
    with pytest.raises(service.InvalidGoal):
        service.propose_goal(family, family.practitioner, "ok", "q" * 301)


def test_goal_cannot_change_after_the_work_ended(make: Factory):
    family = make.family(status=FamilyStatus.CLOSED)
    with pytest.raises(service.GoalNotOpen):
        service.propose_goal(family, family.practitioner, "Calmer bath time")


# --- through the pages ----------------------------------------------------------------------


def test_parent_proposes_practitioner_agrees_both_see_the_agreed_goal(
    app: Flask, make: Factory, login_as
):
    family = make.family()
    parent_client, staff_client = app.test_client(), app.test_client()
    login_as(make.parent_of(family), on=parent_client)
    login_as(family.practitioner, on=staff_client)

    page = page_text(parent_client.get("/goals/"))
    assert "Suggest a goal" in page and "in your own words" in page
    r = parent_client.post(
        f"/goals/family/{family.id}/propose",
        data={
            "csrf_token": csrf_token(parent_client, "/goals/"),
            "text": "I'd like bath time to be calmer.",
            "helping_question": "What do I do that helps Sam settle?",
        },
    )
    assert r.status_code == 302
    assert "You agreed these words" in page_text(parent_client.get("/goals/"))

    staff_page = page_text(staff_client.get(f"/goals/family/{family.id}"))
    assert "I'd like bath time to be calmer." in staff_page and "Yes, I agree" in staff_page
    goal = db.session().scalar(select(Goal))
    assert goal is not None
    rev = service.latest_revision(goal)
    r = staff_client.post(
        f"/goals/{goal.id}/agree",
        data={
            "csrf_token": csrf_token(staff_client, f"/goals/family/{family.id}"),
            "revision_id": rev.id,
        },
    )
    assert r.status_code == 302
    assert _reload(goal).status is GoalStatus.AGREED

    home = page_text(parent_client.get("/home/"))
    assert "I'd like bath time to be calmer." in home
    assert "What do I do that helps Sam settle?" in home


def test_stale_agree_button_gets_a_clear_409(app: Flask, make: Factory, login_as):
    family = make.family()
    client = app.test_client()
    login_as(make.parent_of(family), on=client)
    goal = service.propose_goal(family, family.practitioner, "Calmer bath time")
    db.session().commit()
    seen = service.latest_revision(goal).id
    token = csrf_token(client, "/goals/")
    service.edit_goal(goal, family.practitioner, "Calmer bedtime", "", seen)
    db.session().commit()
    r = client.post(f"/goals/{goal.id}/agree", data={"csrf_token": token, "revision_id": seen})
    assert r.status_code == 409
    text = page_text(r)
    assert "changed while you were looking" in text and "Calmer bedtime" in text
    assert _reload(goal).parent_agreed_at is None


def test_several_carers_see_the_same_goal(app: Flask, make: Factory, login_as):
    family = make.family()
    second = make.parent(family, "Jordan")
    service.propose_goal(family, family.practitioner, "Calmer bath time")
    db.session().commit()
    for carer in (make.parent_of(family), second):
        c = app.test_client()
        login_as(carer, on=c)
        assert "Calmer bath time" in page_text(c.get("/goals/"))


def test_a_parent_can_never_see_or_change_another_familys_goal(app: Flask, make: Factory, login_as):
    mine, theirs = make.family(label="Mine"), make.family(label="Theirs")
    their_goal = service.propose_goal(theirs, theirs.practitioner, "Their private goal")
    db.session().commit()
    their_rev = service.latest_revision(their_goal).id
    client = app.test_client()
    login_as(make.parent_of(mine), on=client)
    token = csrf_token(client, "/goals/")

    assert "Their private goal" not in page_text(client.get("/goals/"))
    assert client.get(f"/goals/family/{theirs.id}").status_code == 404
    attempts = [
        (f"/goals/{their_goal.id}/agree", {"revision_id": their_rev}),
        (f"/goals/{their_goal.id}/edit", {"text": "Hijacked", "revision_id": their_rev}),
        (f"/goals/family/{theirs.id}/propose", {"text": "Hijacked"}),
    ]
    for path, data in attempts:
        r = client.post(path, data={"csrf_token": token, **data})
        assert r.status_code == 404, path
        assert "Their private goal" not in page_text(r)
    fresh = _reload(their_goal)
    assert fresh.text == "Their private goal" and fresh.parent_agreed_at is None
    assert db.session().scalar(select(func.count()).select_from(GoalRevision)) == 1
    assert db.session().scalar(select(func.count()).select_from(Goal)) == 1


def test_practitioner_cannot_reach_another_practitioners_goal(app: Flask, make: Factory, login_as):
    family = make.family()
    goal = service.propose_goal(family, family.practitioner, "Private")
    db.session().commit()
    outsider = make.practitioner()
    client = app.test_client()
    login_as(outsider, on=client)
    assert client.get(f"/goals/family/{family.id}").status_code == 404
    r = client.post(
        f"/goals/{goal.id}/edit",
        data={
            "csrf_token": csrf_token(client, "/practice/"),
            "text": "x",
            "revision_id": service.latest_revision(goal).id,
        },
    )
    assert r.status_code == 404


def test_empty_goal_is_refused_plainly(app: Flask, make: Factory, login_as):
    family = make.family()
    client = app.test_client()
    login_as(make.parent_of(family), on=client)
    r = client.post(
        f"/goals/family/{family.id}/propose",
        data={"csrf_token": csrf_token(client, "/goals/"), "text": "  "},
    )
    assert r.status_code == 400
    assert "Please write the goal" in page_text(r)
    assert db.session().scalar(select(func.count()).select_from(Goal)) == 0

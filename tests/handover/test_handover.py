"""Caseload handover: the new practitioner sees everything, the old one nothing."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import page_text
from tests.supervision.conftest import Supervised, agree, post, share
from vigparent import db
from vigparent.goals import service as goal_service
from vigparent.handover import service as handover
from vigparent.models import AuditEvent, Family, Role


def _family_paths(s: Supervised) -> list[str]:
    return [
        f"/practice/families/{s.family.id}",
        f"/practice/families/{s.family.id}/plan",
        f"/practice/clips/families/{s.family.id}",
        f"/practice/clips/recordings/{s.recording.id}",
        f"/practice/clips/{s.shared_clip.id}/edit",
        f"/media/recordings/{s.recording.id}",
        f"/media/clips/{s.shared_clip.id}",
        f"/withdrawal/families/{s.family.id}/receipts",
        f"/practice/families/{s.family.id}/supervision",
    ]


def test_admin_hands_a_family_over_and_access_follows(supervised: Supervised, make, as_user):
    s = supervised
    org = s.family.organisation
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    newcomer = make.practitioner(organisation=org)
    goal_service.propose_goal(s.family, s.practitioner, "Calmer bath time", "What helps?")
    db.session().commit()
    old, new = as_user(s.practitioner), as_user(newcomer)
    for path in _family_paths(s):
        assert old.get(path).status_code == 200, path
        assert new.get(path).status_code == 404, path

    boss = as_user(admin)
    family_page = page_text(boss.get(f"/practice/families/{s.family.id}"))
    assert "Hand over to another practitioner" in family_page
    confirm = f"/practice/families/{s.family.id}/handover"
    screen = page_text(boss.get(confirm))
    assert "can no longer see the family at all" in screen and "Pat Practitioner" in screen
    done = post(boss, confirm, {"practitioner": newcomer.id}, page=confirm)
    assert done.status_code == 303

    for path in _family_paths(s):
        assert new.get(path).status_code == 200, path
        assert old.get(path).status_code == 404, path
    assert "Sam and Alex" not in page_text(old.get("/practice/"))
    assert "Sam and Alex" in page_text(new.get("/practice/"))
    assert "Calmer bath time" in page_text(new.get(f"/goals/family/{s.family.id}"))
    assert old.get(f"/goals/family/{s.family.id}").status_code == 404

    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "family_handed_over"))
    assert event is not None and event.actor_id == admin.id and event.family_id == s.family.id
    assert f"from={s.practitioner.id} to={newcomer.id}" in event.detail


def test_the_familys_home_names_the_new_practitioner(supervised: Supervised, make, as_user):
    s = supervised
    org = s.family.organisation
    admin = make.practitioner(organisation=org, role=Role.ADMIN)
    newcomer = make.practitioner(organisation=org)
    newcomer.display_name = "Jo Newcomer"
    db.session().commit()
    parent = as_user(s.parent)
    assert "Your practitioner is Pat Practitioner" in page_text(parent.get("/home/"))
    handover.hand_over(s.family, newcomer.id, admin)
    assert "Your practitioner is Jo Newcomer" in page_text(parent.get("/home/"))


def test_only_an_admin_of_the_organisation_can_hand_over(supervised: Supervised, make, as_user):
    s = supervised
    other_org = make.organisation("Elsewhere")
    outsider_admin = make.practitioner(organisation=other_org, role=Role.ADMIN)
    outsider = make.practitioner(organisation=other_org)
    path = f"/practice/families/{s.family.id}/handover"
    for user in (s.practitioner, outsider_admin, s.supervisor, s.parent):
        assert as_user(user).get(path).status_code in (404, 401), user.role
    # An admin cannot hand the family to someone outside the organisation, or to a supervisor.
    admin = make.practitioner(organisation=s.family.organisation, role=Role.ADMIN)
    boss = as_user(admin)
    for target in (outsider.id, s.supervisor.id, s.practitioner.id, "x"):
        response = post(boss, path, {"practitioner": target}, page=path)
        assert response.status_code == 400
        assert "Choose the practitioner" in page_text(response)
    assert db.session().get(Family, s.family.id).practitioner_id == s.practitioner.id


def test_handover_ends_the_old_practitioners_supervision_shares(
    supervised: Supervised, make, as_user
):
    s = supervised
    agree(as_user(s.parent))
    share(as_user(s.practitioner), s)
    supervisor = as_user(s.supervisor)
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}").status_code == 200
    admin = make.practitioner(organisation=s.family.organisation, role=Role.ADMIN)
    newcomer = make.practitioner(organisation=s.family.organisation)
    path = f"/practice/families/{s.family.id}/handover"
    post(as_user(admin), path, {"practitioner": newcomer.id}, page=path)
    assert supervisor.get(f"/media/clips/{s.shared_clip.id}").status_code == 404
    assert "Your clips are shared" not in page_text(as_user(s.parent).get("/consent/privacy"))

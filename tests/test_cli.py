"""The operator CLI contract of DESIGN.md §10."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from vigparent import db
from vigparent.models import Family, Invitation, User


def run(app: Flask, *args: str):
    result = app.test_cli_runner().invoke(args=["vig", *args])
    return result


def test_create_practitioner_family_and_invite(app: Flask, app_ctx):
    r = run(
        app,
        "create-practitioner",
        "jo@example.org",
        "--password",
        "a long password",
        "--name",
        "Jo",
    )
    assert r.exit_code == 0, r.output
    assert db.session().scalar(select(User).where(User.email == "jo@example.org"))

    r = run(app, "create-family", "--practitioner", "jo@example.org", "Sam and Alex")
    assert r.exit_code == 0, r.output
    family_id = int(r.output.strip())
    assert db.session().get(Family, family_id).label == "Sam and Alex"

    r = run(app, "invite", str(family_id))
    assert r.exit_code == 0, r.output
    url = r.output.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/join/[A-Za-z0-9_.\-]+", url)
    token = url.rsplit("/", 1)[1]
    stored = db.session().scalars(select(Invitation.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0]


def test_cli_refuses_bad_input_clearly(app: Flask, app_ctx):
    r = run(app, "create-practitioner", "jo@example.org", "--password", "short")
    assert r.exit_code != 0 and "at least 10 characters" in r.output
    r = run(app, "create-family", "--practitioner", "nobody@example.org", "X")
    assert r.exit_code != 0 and "No practitioner" in r.output
    r = run(app, "invite", "999")
    assert r.exit_code != 0 and "No family" in r.output


def test_demo_prints_login_and_link_and_is_repeatable(app: Flask, app_ctx):
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    assert "practitioner@example.org" in first.output and "/join/" in first.output
    second = run(app, "demo")
    assert second.exit_code == 0
    assert db.session().query(Family).count() == 1


def test_sweep_runs(app: Flask, app_ctx):
    r = run(app, "sweep")
    assert r.exit_code == 0, r.output

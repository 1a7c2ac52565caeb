"""The PostgreSQL path (DESIGN.md §9): migrations and a real sign-in against a real server.

`.ci/run` starts a throw-away cluster (scripts/postgres.sh) and sets
VIGPARENT_TEST_POSTGRES_URL; without it these tests are skipped locally, and CI fails
instead of skipping.
"""

from __future__ import annotations

import os

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from tests.conftest import PASSWORD, make_test_settings
from tests.mfa.journeys import answer_code, answer_recovery, code_for, set_up_app, sign_in
from tests.mfa.journeys import sign_out as sign_out_of
from tests.test_migrations import _config

PG_URL = os.environ.get("VIGPARENT_TEST_POSTGRES_URL", "")

if not PG_URL:
    if os.environ.get("CI") == "true":
        pytest.fail("VIGPARENT_TEST_POSTGRES_URL is not set in CI", pytrace=False)
    pytest.skip("no PostgreSQL server (set VIGPARENT_TEST_POSTGRES_URL)", allow_module_level=True)


def test_migrations_up_down_and_check_on_postgres(pg_database: str):
    cfg = _config(pg_database)
    command.upgrade(cfg, "head")
    command.check(cfg)
    engine = create_engine(pg_database)
    assert "recording" in inspect(engine).get_table_names()
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_practitioner_signs_in_on_postgres(pg_database: str, tmp_path):
    command.upgrade(_config(pg_database), "head")
    from vigparent import create_app, db
    from vigparent.auth import service as auth_service
    from vigparent.families import service as family_service
    from vigparent.models import Organisation

    app = create_app(make_test_settings(tmp_path, database_url=pg_database))
    with app.app_context():
        org = Organisation(name="PG team")
        db.session().add(org)
        db.session().flush()
        user = auth_service.create_staff_user(org.id, "pg@example.org", PASSWORD, "Pat")
        db.session().flush()
        family_service.create_family(user, "Sam on Postgres")
        db.session().commit()

    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login", data={"email": "pg@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302
    assert "Sam on Postgres" in client.get("/practice/").get_data(as_text=True)
    app.extensions["vig_engine"].dispose()


def test_second_factor_on_postgres(pg_database: str, tmp_path):
    """Sealed app secrets (bytea), single-use steps and recovery codes on a real server."""
    command.upgrade(_config(pg_database), "head")
    from vigparent import create_app, db
    from vigparent.auth import service as auth_service
    from vigparent.models import Organisation

    app = create_app(make_test_settings(tmp_path, database_url=pg_database))
    with app.app_context():
        org = Organisation(name="PG team", staff_second_factor_required=True)
        db.session().add(org)
        db.session().flush()
        auth_service.create_staff_user(org.id, "pg@example.org", PASSWORD, "Pat")
        db.session().commit()

        client = app.test_client()
        assert sign_in(client, "pg@example.org").headers["Location"] == "/account/security"
        secret, codes = set_up_app(client)
        assert client.get("/practice/").status_code == 200
        sign_out_of(client)
        sign_in(client, "pg@example.org")
        assert answer_code(client, code_for(secret)).status_code == 400  # used at set-up
        assert answer_recovery(client, codes[0]).headers["Location"] == "/practice/"
        sign_out_of(client)
        sign_in(client, "pg@example.org")
        assert answer_recovery(client, codes[0]).status_code == 400
    app.extensions["vig_engine"].dispose()

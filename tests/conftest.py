"""Layered fixtures: app → client → factories → login_as. One app per test worker; each
test starts with empty tables, media and keys, so tests stay independent and fast."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests.support import servers
from vigparent import clock, create_app, db, i18n
from vigparent.auth import service as auth_service
from vigparent.config import Settings
from vigparent.db import Base
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Organisation,
    Role,
    User,
)
from vigparent.security import limiter

PASSWORD = "correct horse battery staple"


def make_test_settings(data_dir: Path, **overrides: Any) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    base = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'test.sqlite3'}",
        secret_key=secrets.token_urlsafe(48),
        master_key=os.urandom(32),
        testing=True,
        jobs_immediate=True,
        # The cheapest Argon2 cost: tests hash many passwords and prove no strength.
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        # No test sends mail anywhere unless it asks for the SMTP server (`mailbox`).
        mail_backend="log",
    )
    return base.with_overrides(**overrides)


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = make_test_settings(tmp_path_factory.mktemp("vigdata"))
    application = create_app(settings)
    _build_assets_once(application)
    with application.app_context():
        Base.metadata.create_all(application.extensions["vig_engine"])
    yield application


def _build_assets_once(app: Flask) -> None:
    """Build bundles under a lock, so parallel test workers never serve a half-written file."""
    import fcntl

    assert app.static_folder is not None
    gen = Path(app.static_folder) / "gen"
    gen.mkdir(exist_ok=True)
    with open(gen / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        i18n.compile_catalogues()
        env = app.extensions["vig_assets"]
        for bundle in env:
            bundle.urls()


def _wipe(app: Flask) -> None:
    engine = app.extensions["vig_engine"]
    with engine.connect() as conn:
        # The family <-> user foreign keys form a cycle; no delete order satisfies both.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        for table in Base.metadata.tables.values():
            conn.execute(table.delete())
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()
    settings: Settings = app.extensions["vig_settings"]
    # Empty the media and key folders but keep them: the store made them at start-up.
    for d in (settings.media_dir, settings.key_dir):
        for child in d.glob("*") if d.exists() else ():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            elif not child.name.startswith("."):
                child.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    clock.unfreeze()
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        _wipe(app)
        with app.app_context():
            limiter.reset()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    The server is the one `make test` starts (scripts/postgres.sh); without it the test is
    skipped locally and fails in CI.
    """
    pg_url = os.environ.get("VIGPARENT_TEST_POSTGRES_URL", "")
    if not pg_url:
        if os.environ.get("CI") == "true":
            pytest.fail("VIGPARENT_TEST_POSTGRES_URL is not set in CI")
        pytest.skip("no PostgreSQL server (set VIGPARENT_TEST_POSTGRES_URL)")
    name = f"vig_{secrets.token_hex(4)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Any]:
    """A real SMTP server on loopback for the whole session (tests/mailbox.py)."""
    from tests.mailbox import Mailbox

    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def mailbox(app: Flask, smtp_server: Any) -> Iterator[Any]:
    """The app sends mail to the test SMTP server for this test; read it from here."""
    settings: Settings = app.extensions["vig_settings"]
    app.extensions["vig_settings"] = settings.with_overrides(
        mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=smtp_server.port
    )
    smtp_server.clear()
    yield smtp_server
    app.extensions["vig_settings"] = settings


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def frozen_clock() -> Iterator[Callable[..., datetime]]:
    """Freeze the app's clock; call the fixture's value with a datetime to move it."""
    clock.freeze(datetime(2026, 11, 25, 12, 0, 0))

    def set_clock(at: datetime | None = None, **delta: float) -> datetime:
        from datetime import timedelta

        if at is not None:
            clock.freeze(at)
        elif delta:
            clock.advance(timedelta(**delta))
        return clock.now()

    yield set_clock
    clock.unfreeze()


class Factory:
    """Test data builders (gen_family()-style), committing as they go."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _commit(self, *objs: Any) -> None:
        s = db.session()
        for o in objs:
            s.add(o)
        s.commit()

    def organisation(self, name: str = "Test team", **kw: Any) -> Organisation:
        org = Organisation(name=name, **kw)
        self._commit(org)
        return org

    def practitioner(
        self,
        email: str | None = None,
        organisation: Organisation | None = None,
        role: Role = Role.PRACTITIONER,
    ) -> User:
        org = organisation or self.organisation()
        user = auth_service.create_staff_user(
            org.id,
            email or f"p{secrets.token_hex(3)}@example.org",
            PASSWORD,
            "Pat Practitioner",
            role,
        )
        self._commit(user)
        return user

    def family(
        self,
        practitioner: User | None = None,
        label: str = "Sam and Alex",
        status: FamilyStatus = FamilyStatus.ACTIVE,
        consents: tuple[ConsentKind, ...] = (ConsentKind.FILMING, ConsentKind.STORAGE),
        with_parent: bool = True,
    ) -> Family:
        practitioner = practitioner or self.practitioner()
        family = Family(
            organisation_id=practitioner.organisation_id,
            practitioner_id=practitioner.id,
            label=label,
            status=status,
        )
        self._commit(family)
        if with_parent:
            parent = self.parent(family)
            for kind in consents:
                self._commit(
                    ConsentRecord(
                        family_id=family.id, user_id=parent.id, kind=kind, wording_version="test"
                    )
                )
        return family

    def parent(self, family: Family, name: str = "Alex") -> User:
        user = User(
            organisation_id=family.organisation_id,
            role=Role.PARENT,
            display_name=name,
            family_id=family.id,
        )
        self._commit(user)
        return user

    def parent_of(self, family: Family) -> User:
        from sqlalchemy import select

        user = db.session().scalar(
            select(User).where(User.family_id == family.id, User.role == Role.PARENT)
        )
        assert user is not None
        return user


@pytest.fixture
def make(app_ctx: Flask) -> Factory:
    return Factory(app_ctx)


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token a page gives this client (as a browser would read it)."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_META.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login_as(app: Flask, client: FlaskClient) -> Callable[[User], FlaskClient]:
    """Sign `client` in as `user` (any role) the way a real sign-in does."""

    def _login(user: User, on: FlaskClient | None = None) -> FlaskClient:
        c = on or client
        with app.app_context():
            u = db.session().get(User, user.id)
            assert u is not None
            token = auth_service.start_session(u, "test")
            db.session().commit()
        with c.session_transaction() as sess:
            sess["_user_id"] = token
            sess["_fresh"] = True
            sess.permanent = True
        return c

    return _login


def page_text(response: Any) -> str:
    """A response body as a person reads it (HTML entities decoded)."""
    from html import unescape

    return unescape(response.get_data(as_text=True))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server (Debian's redis-server) for this test worker."""
    server = servers.start_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """A real S3-protocol server (moto's standalone server) for this test worker."""
    server = servers.start_s3()
    yield server.url
    server.stop()

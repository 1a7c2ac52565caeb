"""A fuzz crawl of the whole URL map (issue 14 §1): no input from anyone is ever a 5xx.

Every rule is walked as each role (parent, another family's parent, practitioner, admin,
signed out) with malformed path values, methods, headers and form fields, first once
systematically and then with Hypothesis-generated requests, on SQLite and on PostgreSQL.
`TESTING` makes Flask re-raise an unhandled error, so a crash fails the test with its
traceback; a 5xx returned without one fails it too. Bounded: a fixed number of examples.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from werkzeug.routing import Rule

from tests.conftest import make_test_settings
from tests.media.factories import add_clip, add_cycle, add_recording
from tests.support.parent_session import SignedIn, sign_in
from vigparent import create_app, db
from vigparent.auth import service as auth_service
from vigparent.db import Base
from vigparent.goals import service as goal_service
from vigparent.invitations import service as invitation_service
from vigparent.live import service as live
from vigparent.models import (
    ConsentKind,
    ConsentRecord,
    Family,
    FamilyStatus,
    Organisation,
    Reflection,
    Role,
    User,
)
from vigparent.security import limiter
from vigparent.supervision import service as supervision

PG_URL = os.environ.get("VIGPARENT_TEST_POSTGRES_URL", "")
ROLES = (
    "parent",
    "other_parent",
    "practitioner",
    "admin",
    "supervisor",
    "other_organisation",
    "signed_out",
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
EXAMPLES = 400  # per database: 5–15 s on one core

# JSON bodies shaped as each API expects (a push subscription, a phone's error report), their
# text holding what PostgreSQL cannot store, and a number too big for any column.
NASTY_JSON = [
    {
        "endpoint": "https://fcm.googleapis.com/fcm/send/\x00",
        "keys": {"p256dh": "\x00", "auth": 2**70},
        "expirationTime": None,
    },
    {"kind": "script_error", "message": "\x00", "page": "/home/\x00", "app_version": "1"},
]

# Values that broke, or could break, a parser, a converter or the database.
NASTY = [
    "",
    "0",
    "-1",
    "1.5",
    "1e309",
    "nan",
    "inf",
    str(2**63),
    str(2**63 - 1),
    "9" * 23,
    "9" * 5000,
    "²",
    "٣",
    "\x00",
    "a\x00b",
    "é" * 300,
    "x" * 70_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31",
    "0000-00-00",
    "25:99",
    "true",
    "[]",
    "{}",
]
HEADER_NAMES = [
    "Range",
    "If-Range",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Checksum",
    "Upload-Defer-Length",
    "Tus-Resumable",
    "Content-Type",
    "Accept",
    "X-HTTP-Method-Override",
    "X-Forwarded-For",
    "User-Agent",
    "Origin",
    "Referer",
]
HEADER_VALUES = [
    "bytes=0-" + "9" * 5000,
    "bytes=-0",
    "bytes=5-1",
    "bytes=0-1,2-3",
    "1.0.0",
    "0.2.2",
    "application/offset+octet-stream",
    "application/json",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "client_id " + "A" * 5000,
    "client_id ,filetype dmlkZW8vd2VibQ==",
    "cycle_id wrI=",  # "²"
    "recorded_at MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMA==",
    "sha1 !!!",
    "PATCH",
    "DELETE",
    "null",
    "-1",
    str(2**64),
    "9" * 40,
]


@dataclass
class World:
    """The rows one crawl needs: two families, staff, and something of each kind."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    upload_ids: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    family_id: int = 0


def _seed(app: Flask) -> World:
    world = World()
    with app.app_context():
        s = db.session()
        org = Organisation(name="Fuzz team")
        s.add(org)
        s.flush()
        practitioner = auth_service.create_staff_user(
            org.id, f"p{secrets.token_hex(3)}@example.org", "fuzz password 123", "Pat"
        )
        admin = auth_service.create_staff_user(
            org.id, f"a{secrets.token_hex(3)}@example.org", "fuzz password 123", "Ann", Role.ADMIN
        )
        supervisor = auth_service.create_staff_user(
            org.id,
            f"s{secrets.token_hex(3)}@example.org",
            "fuzz password 123",
            "Sue",
            Role.SUPERVISOR,
        )
        other_org = Organisation(name="Other fuzz team")
        s.add(other_org)
        s.flush()
        outsider = auth_service.create_staff_user(
            other_org.id,
            f"o{secrets.token_hex(3)}@example.org",
            "fuzz password 123",
            "Out",
            Role.ADMIN,
        )
        s.flush()
        families, parents = [], []
        for label in ("Sam", "Kit"):
            family = Family(
                organisation_id=org.id,
                practitioner_id=practitioner.id,
                label=label,
                status=FamilyStatus.ACTIVE,
            )
            s.add(family)
            s.flush()
            parent = User(
                organisation_id=org.id, role=Role.PARENT, display_name="Alex", family_id=family.id
            )
            s.add(parent)
            s.flush()
            for kind in (ConsentKind.FILMING, ConsentKind.STORAGE, ConsentKind.SUPERVISION):
                s.add(
                    ConsentRecord(
                        family_id=family.id, user_id=parent.id, kind=kind, wording_version="fuzz"
                    )
                )
            families.append(family)
            parents.append(parent)
        s.commit()
        family, parent = families[0], parents[0]
        cycle = add_cycle(family)
        recording = add_recording(family, parent, cycle=cycle, seconds=1.0)
        clip = add_clip(recording, start=0.2, end=0.8)
        goal = goal_service.propose_goal(family, practitioner, "Calmer bath time", "What helps?")
        invitation, token = invitation_service.invite_carer(family, practitioner, "Jo")
        s.add(Reflection(family_id=family.id, clip_id=clip.id, author_id=parent.id, text="x"))
        s.commit()
        shared = supervision.share_clips(family, practitioner, supervisor.id, [clip.id], 14)
        # An open live review, so its stream and commands are crawled for real (issue 16).
        live.start(family, practitioner)
        world.ids = {
            "family_id": [f.id for f in families],
            "carer_id": [p.id for p in parents],
            "cycle_id": [cycle.id],
            "recording_id": [recording.id],
            "clip_id": [clip.id],
            "goal_id": [goal.id],
            "invitation_id": [invitation.id],
            "device_id": [1],
            "share_id": [shared.id],
            # The admin's own id: switching oneself off is refused, so the crawl stays signed in.
            "staff_id": [admin.id],
        }
        world.upload_ids = [recording.upload_id]
        world.tokens = [token, token[:-2], "x" * 40]
        world.users = {
            "parent": parents[0].id,
            "other_parent": parents[1].id,
            "practitioner": practitioner.id,
            "admin": admin.id,
            "supervisor": supervisor.id,
            "other_organisation": outsider.id,
        }
        world.family_id = family.id
    return world


def _form_field_names() -> list[str]:
    names: set[str] = {"csrf_token", "device_id", "score", "text", "confirm_label", "next"}
    names |= {"return_to", "set", "clip", "client_id"}
    names |= {"supervisor", "days", "question", "practitioner"}
    names |= {"language", "next"}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        names |= {n for n, v in vars(form).items() if hasattr(v, "field_class")}
    return sorted(names)


class Crawler:
    """Sends one request as one role to one rule, and fails on any 5xx."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.world = _seed(app)
        self.rules: list[Rule] = sorted(
            (r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule
        )
        self.fields = _form_field_names()
        self.requests = 0
        self.reseeds = 0
        self.sessions: dict[str, SignedIn] = {}

    def reseed_if_gone(self) -> None:
        # A crawled request may withdraw or erase the family; crawl a fresh one then.
        with self.app.app_context():
            family = db.session().get(Family, self.world.family_id)
            if family is None or family.status is not FamilyStatus.ACTIVE:
                self.world = _seed(self.app)
                self.reseeds += 1
                self.sessions.clear()

    def signed_in(self, role: str) -> SignedIn | None:
        if role == "signed_out":
            return None
        if role not in self.sessions:
            self.sessions[role] = sign_in(self.app, self.world.users[role], "fuzz")
        return self.sessions[role]

    def path(self, rule: Rule, values: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            return values.get(match.group(2), "1")

        path = re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>", fill, rule.rule)
        return path

    def real_value(self, rule: Rule, arg: str) -> str:
        if arg in self.world.ids:
            return str(self.world.ids[arg][0])
        if arg == "upload_id":
            return self.world.upload_ids[0]
        if arg == "token":
            return self.world.tokens[0]
        return "1"

    def send(
        self,
        role: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        with_csrf: bool = True,
        body: bytes | None = None,
        json_body: Any = None,
    ) -> int:
        client = self.app.test_client()
        signed = self.signed_in(role)
        all_headers = dict(headers or {})
        if signed is not None:
            client.set_cookie(signed.cookie_name, signed.cookie_value)
            if with_csrf:
                all_headers.setdefault("X-CSRFToken", signed.csrf_token)
        data: Any = body
        if form is not None:
            data = dict(form)
            if with_csrf and signed is not None:
                data.setdefault("csrf_token", signed.csrf_token)
        with self.app.app_context():
            limiter.reset()
        if json_body is not None:
            response = client.open(path, method=method, headers=all_headers, json=json_body)
        else:
            response = client.open(path, method=method, headers=all_headers, data=data)
        status = response.status_code
        response.close()
        if method not in ("GET", "HEAD", "OPTIONS"):
            # The request may have signed someone out (sign-out, a carer's device, erasure).
            self.sessions.clear()
        self.requests += 1
        assert status < 500, f"{status} for {role} {method} {path} {headers} {form} {json_body}"
        return status


def _postgres_app(tmp: Path) -> Iterator[Flask]:
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("VIGPARENT_TEST_POSTGRES_URL is not set in CI", pytrace=False)
        pytest.skip("no PostgreSQL server (set VIGPARENT_TEST_POSTGRES_URL)")
    name = f"vig_fuzz_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    app = create_app(make_test_settings(tmp, database_url=PG_URL.rsplit("/", 1)[0] + f"/{name}"))
    with app.app_context():
        Base.metadata.create_all(app.extensions["vig_engine"])
    try:
        yield app
    finally:
        app.extensions["vig_engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def crawler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crawler]:
    if request.param == "sqlite":
        app: Flask = request.getfixturevalue("app")
        yield Crawler(app)
        return
    gen = _postgres_app(tmp_path)
    app = next(gen)
    try:
        yield Crawler(app)
    finally:
        gen.close()


# A lone surrogate cannot be sent as UTF-8 at all; invalid bytes arrive through `body`.
_CHARS = st.characters(blacklist_categories=("Cs",))


def _nasty_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY), st.text(_CHARS, max_size=40))


def _json_value(fields: list[str]) -> st.SearchStrategy[Any]:
    """JSON objects an API might be sent: known field names (the push subscription's too)
    holding nasty text, numbers, lists or objects."""
    keys = st.sampled_from([*fields, "endpoint", "keys", "p256dh", "auth", "expirationTime"])
    leaf = st.one_of(
        _nasty_text(), st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none()
    )
    nested = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)
        ),
        max_leaves=6,
    )
    return st.dictionaries(keys, nested, max_size=4)


def _path_value() -> st.SearchStrategy[str]:
    digits = st.integers(min_value=0, max_value=2**80).map(str)
    return st.one_of(digits, st.sampled_from(NASTY[:13]), st.text(_CHARS, min_size=1, max_size=20))


@pytest.mark.xdist_group("fuzz")
def test_every_rule_as_every_role_never_answers_5xx(crawler: Crawler):
    """The systematic pass: each rule × role × its methods, with real and nasty ids."""
    for rule in crawler.rules:
        for role in ROLES:
            crawler.reseed_if_gone()
            real = {arg: crawler.real_value(rule, arg) for arg in rule.arguments}
            huge = {arg: "9" * 23 for arg in rule.arguments}
            for values in (real, huge) if rule.arguments else (real,):
                path = crawler.path(rule, values)
                for method in sorted((rule.methods or set()) | {"PUT"}):
                    crawler.send(role, method, path, form={"text": "\x00", "score": "²"})
                if "POST" in (rule.methods or set()) and values is real:
                    for body in NASTY_JSON:
                        crawler.send(role, "POST", path, json_body=body)
    assert crawler.requests > 1000


@pytest.mark.xdist_group("fuzz")
def test_generated_requests_never_answer_5xx(crawler: Crawler):
    """The random pass: Hypothesis mixes path values, methods, headers and form fields."""
    fields = crawler.fields

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def crawl(data: st.DataObject) -> None:
        crawler.reseed_if_gone()
        rule = data.draw(st.sampled_from(crawler.rules), label="rule")
        role = data.draw(st.sampled_from(ROLES), label="role")
        method = data.draw(
            st.one_of(st.sampled_from(sorted(rule.methods or {"GET"})), st.sampled_from(METHODS)),
            label="method",
        )
        values = {
            arg: data.draw(
                st.one_of(st.just(crawler.real_value(rule, arg)), _path_value()), label=arg
            )
            for arg in rule.arguments
        }
        headers = data.draw(
            st.dictionaries(
                st.sampled_from(HEADER_NAMES),
                st.one_of(st.sampled_from(HEADER_VALUES), st.sampled_from(NASTY[:22])),
                max_size=4,
            ),
            label="headers",
        )
        # Header values must be encodable on the wire (latin-1, no line breaks).
        headers = {
            k: v for k, v in headers.items() if v.isprintable() and v.isascii() and len(v) < 8000
        }
        form = data.draw(
            st.one_of(
                st.none(),
                st.dictionaries(st.sampled_from(fields), _nasty_text(), max_size=6),
            ),
            label="form",
        )
        body = json_body = None
        if form is None:
            body = data.draw(st.one_of(st.none(), st.binary(max_size=256)), label="body")
        if form is None and body is None:
            json_body = data.draw(st.one_of(st.none(), _json_value(fields)), label="json")
        with_csrf = data.draw(st.booleans(), label="csrf")
        path = crawler.path(rule, {k: _quote(v) for k, v in values.items()})
        crawler.send(
            role,
            method,
            path,
            headers=headers,
            form=form,
            with_csrf=with_csrf,
            body=body,
            json_body=json_body,
        )

    crawl()
    assert crawler.requests >= EXAMPLES


def _quote(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")

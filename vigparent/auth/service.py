"""Passwords, sign-in and signed-in devices.

Each sign-in creates a LoginSession row; the cookie holds its secret and the database only a
hash. Ending the row signs that one device out, which is how a lost phone is cut off.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from vigparent import audit, db
from vigparent.config import settings_of
from vigparent.models import LoginSession, Role, User, utcnow

# Asked on every signed-in request: built once, and the user comes in the same query.
_LIVE_SESSION = (
    select(LoginSession)
    .options(joinedload(LoginSession.user))
    .where(
        LoginSession.token_hash == bindparam("token_hash"),
        LoginSession.ended_at.is_(None),
        # A sign-in still waiting for its second factor signs nobody in (auth.mfa).
        LoginSession.pending_until.is_(None),
    )
)


@functools.cache
def _hasher_costing(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """The current app's password hasher, at the Argon2 cost its settings name."""
    s = settings_of(current_app)
    return _hasher_costing(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash to verify unknown emails against, so timing does not reveal who has an account.

    Made on first use, not at import: argon2 takes 64 MiB for each hash, and a web worker that
    only ever receives uploads should not pay that at start-up.
    """
    return hasher.hash(secrets.token_urlsafe(16))


_LAST_SEEN_GRANULARITY = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 10


class InvalidCredentials(Exception):
    """The email and password do not match an active staff account."""


class NotInOrganisation(Exception):
    """No staff member with that id in the admin's organisation."""


class WeakPassword(ValueError):
    """The password is too short to protect a caseload."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher().hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(email: str, password: str) -> User:
    """Return the active staff user with these credentials or raise InvalidCredentials."""
    user = db.session().scalar(select(User).where(User.email == email.strip().lower()))
    hasher = _hasher()
    stored = user.password_hash if user and user.password_hash else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials from None
    if user is None or not user.is_staff or user.disabled_at is not None:
        raise InvalidCredentials
    if hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    return user


def start_session(user: User, device_label: str = "", pending_until: datetime | None = None) -> str:
    """Record a new signed-in device for `user`; returns the secret for the cookie.

    With `pending_until` the session waits for a second factor (auth.mfa) and signs nobody in.
    """
    token = secrets.token_urlsafe(32)
    db.session().add(
        LoginSession(
            user_id=user.id,
            token_hash=token_hash(token),
            device_label=device_label[:120],
            pending_until=pending_until,
        )
    )
    user.session_token = token
    return token


def load_signed_in_user(token: str) -> User | None:
    """Flask-Login's loader: the user of a live LoginSession, else None."""
    s = db.session()
    login = s.scalar(_LIVE_SESSION, {"token_hash": token_hash(token)})
    if login is None:
        return None
    user = login.user
    now = utcnow()
    settings = current_app.extensions["vig_settings"]
    idle_limit = timedelta(hours=settings.practitioner_idle_hours)
    if user.disabled_at is not None or (user.is_staff and now - login.last_seen_at > idle_limit):
        login.ended_at = now
        s.commit()
        return None
    if now - login.last_seen_at > _LAST_SEEN_GRANULARITY:
        login.last_seen_at = now
        s.commit()
    user.session_token = token
    return user


def end_session(token: str) -> None:
    """End the session with this secret (not committed: a building block)."""
    db.session().execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash(token), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def sign_out(user: User) -> None:
    """End this person's session on the device they are using now."""
    token = user.get_id()
    if token:
        end_session(token)
    audit.record("signed_out", actor=user)
    db.session().commit()


def end_device_session(user: User, login_session_id: int) -> bool:
    """Sign one device of `user` out (a phone that was lost); False if it was not signed in."""
    result = db.session().execute(
        update(LoginSession)
        .where(
            LoginSession.id == login_session_id,
            LoginSession.user_id == user.id,
            LoginSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def end_all_sessions(user: User) -> int:
    """Sign every device of `user` out; returns how many were signed in."""
    result = db.session().execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def colleague(admin: User, staff_id: int, roles: tuple[Role, ...]) -> User:
    """The staff member ``staff_id`` in one of ``roles`` in the admin's own organisation;
    NotInOrganisation (a 404 to the admin) for anyone else."""
    person = db.session().scalar(
        select(User).where(
            User.id == staff_id,
            User.organisation_id == admin.organisation_id,
            User.role.in_(roles),
        )
    )
    if person is None:
        raise NotInOrganisation
    return person


def create_staff_user(
    organisation_id: int, email: str, password: str, name: str, role: Role = Role.PRACTITIONER
) -> User:
    user = User(
        organisation_id=organisation_id,
        role=role,
        email=email.strip().lower(),
        password_hash=hash_password(password),
        display_name=name,
    )
    db.session().add(user)
    return user

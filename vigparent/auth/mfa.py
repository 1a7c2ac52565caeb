"""Staff sign in with a second factor: what comes after the password, and who may pass.

After the password, a staff member who has a passkey or an authenticator app gets a *pending*
LoginSession: it signs nobody in (auth.service's loader skips it) and dies after
PENDING_MINUTES. Passing the second factor turns it into an ordinary session. In an
organisation that requires a second factor, a member who has none is led to set one up on the
same pending session, and setting one up (which proves it) signs them in; they can reach
nothing else until then. Wrong codes are limited per person (LOCK_FAILURES in LOCK_WINDOW),
on top of the per-address rate limit on the views, so many addresses cannot share the guessing.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from vigparent import audit, db
from vigparent.auth import passkeys, totp
from vigparent.auth import service as auth_service
from vigparent.models import (
    AuditEvent,
    AuthenticatorApp,
    LoginSession,
    Organisation,
    Passkey,
    RecoveryCode,
    Role,
    User,
    utcnow,
)

PENDING_MINUTES = 10
LOCK_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
RECOVERY_CODE_COUNT = 10
# 16 characters of a 32-letter alphabet: 80 bits, so a plain SHA-256 of each is safe to store.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 16

_STAFF_ROLES = (Role.PRACTITIONER, Role.ADMIN, Role.SUPERVISOR)

HOW_PASSKEY = "passkey"
HOW_APP = "app"
HOW_RECOVERY = "recovery code"


class SignInStep(enum.StrEnum):
    DONE = "done"
    VERIFY = "verify"
    SET_UP = "set_up"


@dataclass(frozen=True)
class SignInStart:
    token: str
    step: SignInStep


@dataclass(frozen=True)
class Factors:
    passkeys: list[Passkey]
    app: bool
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return bool(self.passkeys) or self.app


class WrongCode(Exception):
    """The code did not match (or was already used)."""


class TooManyTries(Exception):
    """Too many wrong codes for this person lately; codes are refused for a while."""


class FactorsLocked(Exception):
    """This change would leave the person without a second factor their organisation requires,
    or a half-signed-in session tried to change factors it has not proved."""


class NeedOwnFactor(Exception):
    """An admin cannot require a second factor before setting one up themselves."""


def factors_of(user: User) -> Factors:
    left = db.session().scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return Factors(
        passkeys=passkeys.passkeys_of(user), app=totp.is_set_up(user), recovery_codes_left=left or 0
    )


def has_second_factor(user: User) -> bool:
    """A passkey or a confirmed app; recovery codes alone are a way back in, not a factor."""
    s = db.session()
    if s.scalar(select(Passkey.id).where(Passkey.user_id == user.id).limit(1)) is not None:
        return True
    return (
        s.scalar(
            select(AuthenticatorApp.id).where(
                AuthenticatorApp.user_id == user.id, AuthenticatorApp.confirmed_at.is_not(None)
            )
        )
        is not None
    )


def required_for(user: User) -> bool:
    return user.is_staff and user.organisation.staff_second_factor_required


def needs_set_up(user: User) -> bool:
    """Staff whose organisation requires a second factor they do not have yet."""
    return required_for(user) and not has_second_factor(user)


# -- the sign-in ------------------------------------------------------------------------------


def begin_sign_in(user: User, device_label: str = "") -> SignInStart:
    """After the right password: a full session, or a pending one and the step it waits for."""
    if has_second_factor(user):
        step = SignInStep.VERIFY
    elif required_for(user):
        step = SignInStep.SET_UP
    else:
        step = SignInStep.DONE
    pending_until = (
        None if step is SignInStep.DONE else utcnow() + timedelta(minutes=PENDING_MINUTES)
    )
    token = auth_service.start_session(user, device_label, pending_until=pending_until)
    if step is SignInStep.DONE:
        audit.record("signed_in", actor=user)
    else:
        audit.record("password_accepted", actor=user, detail=f"next: {step.value}")
    db.session().commit()
    return SignInStart(token=token, step=step)


def pending_session(token: str) -> LoginSession | None:
    """The live pending session for this cookie secret, or None."""
    if not token:
        return None
    login = db.session().scalar(
        select(LoginSession).where(
            LoginSession.token_hash == auth_service.token_hash(token),
            LoginSession.ended_at.is_(None),
            LoginSession.pending_until.is_not(None),
        )
    )
    if login is None or login.pending_until is None or login.pending_until <= utcnow():
        return None
    if login.user.disabled_at is not None:
        return None
    return login


def live_session(user: User) -> LoginSession | None:
    """The signed-in user's own LoginSession row (for a WebAuthn challenge)."""
    token = user.get_id()
    if not token:
        return None
    return db.session().scalar(
        select(LoginSession).where(
            LoginSession.token_hash == auth_service.token_hash(token),
            LoginSession.ended_at.is_(None),
            LoginSession.pending_until.is_(None),
        )
    )


def _complete(login: LoginSession, token: str, how: str) -> User:
    login.pending_until = None
    login.second_factor = how
    login.last_seen_at = utcnow()
    user = login.user
    user.session_token = token
    audit.record("signed_in", actor=user, detail=f"second factor: {how}")
    return user


def _check_not_locked(user: User) -> None:
    s = db.session()
    since = utcnow() - LOCK_WINDOW
    last_in = s.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.actor_id == user.id, AuditEvent.action == "signed_in"
        )
    )
    if last_in is not None and last_in > since:
        since = last_in
    failures = s.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.actor_id == user.id,
            AuditEvent.action == "second_factor_failed",
            AuditEvent.at > since,
        )
    )
    if (failures or 0) >= LOCK_FAILURES:
        raise TooManyTries


def _failed(user: User, how: str) -> None:
    # Committed although the request fails: the attempt counts towards the lock, and a
    # passkey challenge it used up stays used.
    audit.record("second_factor_failed", actor=user, detail=how)
    db.session().commit()


def pass_with_app(login: LoginSession, token: str, code: str) -> User:
    """Finish a pending sign-in with an authenticator-app code."""
    user = login.user
    _check_not_locked(user)
    if not totp.verify(user, code):
        _failed(user, HOW_APP)
        raise WrongCode
    user = _complete(login, token, HOW_APP)
    db.session().commit()
    return user


def pass_with_recovery_code(login: LoginSession, token: str, code: str) -> User:
    """Finish a pending sign-in with a recovery code, which is then used up."""
    user = login.user
    _check_not_locked(user)
    normalised = normalise_recovery_code(code)
    used = None
    if normalised is not None:
        # Conditional update: two requests with one code cannot both use it.
        used = db.session().execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash_code(normalised),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
    if used is None or not getattr(used, "rowcount", 0):
        _failed(user, HOW_RECOVERY)
        raise WrongCode
    audit.record("recovery_code_used", actor=user)
    user = _complete(login, token, HOW_RECOVERY)
    db.session().commit()
    return user


def passkey_options(login: LoginSession) -> str:
    options = passkeys.authentication_options(login.user, login)
    db.session().commit()
    return options


def pass_with_passkey(login: LoginSession, token: str, credential: object) -> User:
    """Finish a pending sign-in with a passkey (no lock: a passkey cannot be guessed)."""
    try:
        passkeys.authenticate(login.user, login, credential)
    except passkeys.PasskeyFailed:
        _failed(login.user, HOW_PASSKEY)
        raise
    user = _complete(login, token, HOW_PASSKEY)
    db.session().commit()
    return user


def cancel(login: LoginSession) -> None:
    login.ended_at = utcnow()
    db.session().commit()


# -- setting factors up -----------------------------------------------------------------------


def may_change_factors(login: LoginSession) -> bool:
    """A full session may; a pending one only while its person has no factor to prove."""
    return login.pending_until is None or not has_second_factor(login.user)


def _guard(login: LoginSession) -> None:
    if not may_change_factors(login):
        raise FactorsLocked


def start_app_setup(login: LoginSession) -> str:
    _guard(login)
    secret = totp.start_setup(login.user)
    db.session().commit()
    return secret


def confirm_app(login: LoginSession, token: str, code: str) -> list[str] | None:
    """Confirm the app being set up; new recovery codes when it is the first factor."""
    _guard(login)
    user = login.user
    _check_not_locked(user)
    first = not has_second_factor(user)
    if not totp.confirm_setup(user, code):
        _failed(user, "app set-up")
        raise WrongCode
    audit.record("second_factor_added", actor=user, detail=HOW_APP)
    codes = _factor_added(login, token, first, HOW_APP)
    db.session().commit()
    return codes


def passkey_registration_options(login: LoginSession) -> str:
    _guard(login)
    options = passkeys.registration_options(login.user, login)
    db.session().commit()
    return options


def add_passkey(login: LoginSession, token: str, credential: object, name: str) -> list[str] | None:
    """Keep a new passkey; new recovery codes when it is the first factor."""
    _guard(login)
    user = login.user
    first = not has_second_factor(user)
    try:
        passkeys.register(user, login, credential, name)
    except passkeys.PasskeyFailed:
        db.session().commit()  # the challenge it used up stays used
        raise
    audit.record("second_factor_added", actor=user, detail=HOW_PASSKEY)
    codes = _factor_added(login, token, first, HOW_PASSKEY)
    db.session().commit()
    return codes


def _factor_added(login: LoginSession, token: str, first: bool, how: str) -> list[str] | None:
    user = login.user
    if login.pending_until is not None:
        _complete(login, token, how)
    if not first:
        return None
    # Other devices signed in with the password alone: from now on they would need the factor.
    db.session().execute(
        update(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.id != login.id,
            LoginSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
    )
    return new_recovery_codes(user)


def remove_passkey(user: User, passkey_id: int) -> bool:
    factors = factors_of(user)
    _refuse_if_last(user, left_after=len(factors.passkeys) - 1 + int(factors.app))
    removed = passkeys.remove(user, passkey_id)
    if removed:
        audit.record("second_factor_removed", actor=user, detail=HOW_PASSKEY)
        _after_removal(user)
        db.session().commit()
    return removed


def remove_app(user: User) -> None:
    _refuse_if_last(user, left_after=len(factors_of(user).passkeys))
    totp.remove(user)
    audit.record("second_factor_removed", actor=user, detail=HOW_APP)
    _after_removal(user)
    db.session().commit()


def _refuse_if_last(user: User, left_after: int) -> None:
    if required_for(user) and left_after < 1:
        raise FactorsLocked


def _after_removal(user: User) -> None:
    if not has_second_factor(user):
        # Without a factor, sign-in asks for none: leftover codes would only be a liability.
        db.session().execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


# -- recovery codes ---------------------------------------------------------------------------


def _hash_code(normalised: str) -> str:
    return hashlib.sha256(f"vigparent-recovery:{normalised}".encode()).hexdigest()


def normalise_recovery_code(code: str) -> str | None:
    letters = re.sub(r"[\s-]", "", (code or "").lower())
    if len(letters) != _RECOVERY_LENGTH or any(c not in _RECOVERY_ALPHABET for c in letters):
        return None
    return letters


def _format_code(letters: str) -> str:
    return "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))


def new_recovery_codes(user: User) -> list[str]:
    """Replace `user`'s recovery codes; the plain codes are returned once and never stored."""
    s = db.session()
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        s.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code)))
    audit.record("recovery_codes_made", actor=user)
    return [_format_code(c) for c in codes]


def make_recovery_codes(user: User) -> list[str]:
    """New codes on request; only for someone who has a factor they protect."""
    if not has_second_factor(user):
        raise FactorsLocked
    codes = new_recovery_codes(user)
    db.session().commit()
    return codes


# -- the organisation admin -------------------------------------------------------------------


def staff_of(admin: User) -> list[tuple[User, Factors]]:
    people = db.session().scalars(
        select(User)
        .where(User.organisation_id == admin.organisation_id, User.role.in_(_STAFF_ROLES))
        .order_by(User.display_name, User.id)
    )
    return [(person, factors_of(person)) for person in people]


def set_requirement(admin: User, required: bool) -> None:
    """Turn the organisation's second-factor rule on or off."""
    if required and not has_second_factor(admin):
        raise NeedOwnFactor
    org: Organisation = admin.organisation
    if org.staff_second_factor_required == required:
        return
    org.staff_second_factor_required = required
    audit.record("second_factor_required" if required else "second_factor_optional", actor=admin)
    db.session().commit()


def reset_factors(admin: User, staff_id: int) -> User:
    """Clear a staff member's factors and sign them out everywhere (they set up anew)."""
    person = auth_service.colleague(admin, staff_id, _STAFF_ROLES)
    clear_factors(person)
    auth_service.end_all_sessions(person)
    audit.record("second_factor_reset", actor=admin, detail=f"staff {person.id}")
    db.session().commit()
    return person


def clear_factors(person: User) -> None:
    passkeys.remove_all(person)
    totp.remove(person)
    db.session().execute(delete(RecoveryCode).where(RecoveryCode.user_id == person.id))

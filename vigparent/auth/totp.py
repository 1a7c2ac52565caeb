"""The authenticator app (TOTP, RFC 6238): the fallback second factor for staff.

The secret is sealed with AES-GCM under a key derived from SECRET_KEY, so a copy of the
database alone does not yield working codes. A code is accepted for its own 30-second step and
one step either side (phone clocks drift), and never twice: each accepted step is remembered
and only later steps pass after it.
"""

from __future__ import annotations

import hmac
import os
import re
from datetime import UTC

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, select, update

from vigparent import clock, db
from vigparent.models import AuthenticatorApp, User, utcnow

ISSUER = "VIG"
STEP_SECONDS = 30
# Steps either side of now that still count (RFC 6238 §5.2 allows for clock drift).
DRIFT_STEPS = 1
_CODE = re.compile(r"[0-9]{6}")
_SEAL_CONTEXT = b"vigparent authenticator app"


class AppAlreadySetUp(Exception):
    """The authenticator app is already confirmed; remove it before setting up another."""


class AppUnreadable(Exception):
    """The sealed secret cannot be opened (SECRET_KEY changed): the app must be set up again."""


def _key() -> bytes:
    secret_key: str = current_app.extensions["vig_settings"].secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_CONTEXT).derive(
        secret_key.encode()
    )


def _seal(secret: str, user_id: int) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_key()).encrypt(nonce, secret.encode(), str(user_id).encode())


def _open(app: AuthenticatorApp) -> str:
    # The user id is bound as associated data, so a sealed secret moved to another row fails.
    try:
        plain = AESGCM(_key()).decrypt(
            app.secret_sealed[:12], app.secret_sealed[12:], str(app.user_id).encode()
        )
    except InvalidTag:
        raise AppUnreadable from None
    return plain.decode()


def normalise_code(code: str) -> str | None:
    """Six digits, forgiving the spaces and dashes people type; None when it is not a code."""
    digits = re.sub(r"[\s-]", "", code or "")
    return digits if _CODE.fullmatch(digits) else None


def current_step() -> int:
    return int(clock.now().replace(tzinfo=UTC).timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str, after_step: int) -> int | None:
    totp = pyotp.TOTP(secret)
    now = current_step()
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if step > after_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _app_of(user: User) -> AuthenticatorApp | None:
    return db.session().scalar(select(AuthenticatorApp).where(AuthenticatorApp.user_id == user.id))


def is_set_up(user: User) -> bool:
    app = _app_of(user)
    return app is not None and app.confirmed_at is not None


def start_setup(user: User) -> str:
    """A new secret for `user`'s app, waiting to be confirmed by one right code."""
    app = _app_of(user)
    if app is not None and app.confirmed_at is not None:
        raise AppAlreadySetUp
    secret = pyotp.random_base32()
    if app is None:
        db.session().add(AuthenticatorApp(user_id=user.id, secret_sealed=_seal(secret, user.id)))
    else:
        app.secret_sealed = _seal(secret, user.id)
        app.last_used_step = 0
    return secret


def setup_secret(user: User) -> str | None:
    """The secret of an app being set up (to show again), or None."""
    app = _app_of(user)
    if app is None or app.confirmed_at is not None:
        return None
    try:
        return _open(app)
    except AppUnreadable:
        return None


def setup_link(user: User, secret: str) -> str:
    """The otpauth:// link an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email or "", issuer_name=ISSUER)


def confirm_setup(user: User, code: str) -> bool:
    """Confirm the app being set up with one right code; False when the code is wrong."""
    app = _app_of(user)
    digits = normalise_code(code)
    if app is None or app.confirmed_at is not None or digits is None:
        return False
    step = _matching_step(_open(app), digits, app.last_used_step)
    if step is None:
        return False
    app.confirmed_at = utcnow()
    app.last_used_step = step
    return True


def verify(user: User, code: str) -> bool:
    """True once for a right code from `user`'s confirmed app; a replayed code is refused."""
    app = _app_of(user)
    digits = normalise_code(code)
    if app is None or app.confirmed_at is None or digits is None:
        return False
    try:
        secret = _open(app)
    except AppUnreadable:
        return False
    step = _matching_step(secret, digits, app.last_used_step)
    if step is None:
        return False
    # Two requests with the same code race here; the conditional update lets only one win.
    result = db.session().execute(
        update(AuthenticatorApp)
        .where(AuthenticatorApp.id == app.id, AuthenticatorApp.last_used_step < step)
        .values(last_used_step=step)
    )
    return bool(getattr(result, "rowcount", 0))


def remove(user: User) -> None:
    db.session().execute(delete(AuthenticatorApp).where(AuthenticatorApp.user_id == user.id))

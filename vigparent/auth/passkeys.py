"""Passkeys (WebAuthn): the main second factor for staff.

The relying party is the site named by VIGPARENT_BASE_URL: its host is the RP id and its
origin the only origin accepted. Browsers refuse an IP address as RP id, so passkeys are
offered only when the base URL names a host (http://localhost counts as a secure context).
Each ceremony's challenge is kept on the LoginSession row, never in the readable cookie, and
is taken (cleared) by the answer, so one answer cannot be played twice.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vigparent import db
from vigparent.models import LoginSession, Passkey, User, utcnow

RP_NAME = "VIG"
MAX_NAME = 60


class PasskeyFailed(Exception):
    """The browser's answer did not prove the passkey (or it was not one of this person's)."""


def relying_party() -> tuple[str, str]:
    """(RP id, origin) from the base URL."""
    parts = urlsplit(current_app.extensions["vig_settings"].base_url)
    return parts.hostname or "", f"{parts.scheme}://{parts.netloc}"


def available() -> bool:
    """Whether browsers will accept our RP id (a host name, not an IP address)."""
    rp_id, _origin = relying_party()
    if not rp_id:
        return False
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        return True
    return False


def _user_handle(user: User) -> bytes:
    # Stable per user (an authenticator replaces its old passkey for the same handle) and
    # free of personal data, as the spec asks.
    return hashlib.sha256(f"vigparent-user:{user.id}".encode()).digest()


def passkeys_of(user: User) -> list[Passkey]:
    return list(
        db.session().scalars(
            select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)
        )
    )


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for key in passkeys_of(user):
        transports = []
        for name in filter(None, key.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        out.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(key.credential_id), transports=transports or None
            )
        )
    return out


def _new_challenge(login: LoginSession) -> bytes:
    challenge = os.urandom(32)
    login.webauthn_challenge = bytes_to_base64url(challenge)
    return challenge


def _take_challenge(login: LoginSession) -> bytes:
    challenge = login.webauthn_challenge
    login.webauthn_challenge = None
    if not challenge:
        raise PasskeyFailed
    return base64url_to_bytes(challenge)


def registration_options(user: User, login: LoginSession) -> str:
    """JSON for navigator.credentials.create(); remembers the challenge on `login`."""
    rp_id, _origin = relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.email or "",
        user_id=_user_handle(user),
        user_display_name=user.display_name or user.email or "",
        challenge=_new_challenge(login),
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options)


def register(user: User, login: LoginSession, credential: Any, name: str) -> Passkey:
    """Check the browser's answer to registration_options and keep the new passkey."""
    rp_id, origin = relying_party()
    challenge = _take_challenge(login)
    try:
        verified = verify_registration_response(
            credential=credential if isinstance(credential, str) else json.dumps(credential),
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as e:
        raise PasskeyFailed from e
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session().scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise PasskeyFailed
    transports = ""
    if isinstance(credential, dict):
        response = credential.get("response")
        listed = response.get("transports") if isinstance(response, dict) else None
        if isinstance(listed, list):
            transports = ",".join(str(t) for t in listed if isinstance(t, str))[:200]
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        name=(name.strip() or "Passkey")[:MAX_NAME],
    )
    db.session().add(passkey)
    return passkey


def authentication_options(user: User, login: LoginSession) -> str:
    """JSON for navigator.credentials.get() over `user`'s passkeys."""
    rp_id, _origin = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=_new_challenge(login),
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options)


def authenticate(user: User, login: LoginSession, credential: Any) -> Passkey:
    """Check the browser's answer to authentication_options; the passkey that signed it."""
    rp_id, origin = relying_party()
    challenge = _take_challenge(login)
    raw = credential if isinstance(credential, str) else json.dumps(credential)
    try:
        parsed = parse_authentication_credential_json(raw)
        passkey = db.session().scalar(
            select(Passkey).where(
                Passkey.user_id == user.id,
                Passkey.credential_id == bytes_to_base64url(parsed.raw_id),
            )
        )
        if passkey is None:
            raise PasskeyFailed
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as e:
        raise PasskeyFailed from e
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return passkey


def remove(user: User, passkey_id: int) -> bool:
    """Remove one of `user`'s passkeys; False when they have none with that id."""
    result = db.session().execute(
        delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )
    return bool(getattr(result, "rowcount", 0))


def remove_all(user: User) -> None:
    db.session().execute(delete(Passkey).where(Passkey.user_id == user.id))

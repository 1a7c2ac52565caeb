"""Secret links (parent invitations, staff invitations, password resets): one set of rules.

A link carries an `itsdangerous`-signed random secret. The signature lets us turn a tampered
link away without a database lookup; only a SHA-256 hash of the secret is stored, so the
database (or a backup of it) never holds a working link, and the row makes it single use,
expiring and revocable.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_link_secret(salt: str) -> tuple[str, str]:
    """A fresh (token for the URL, hash to store). The token is shown or sent once."""
    secret = secrets.token_urlsafe(24)
    return _serializer(salt).dumps(secret), secret_hash(secret)


def hash_of_token(token: str, salt: str) -> str | None:
    """The stored hash a link's token stands for, or None when it was tampered with."""
    try:
        secret = _serializer(salt).loads(token)
    except BadSignature:
        return None
    return secret_hash(secret) if isinstance(secret, str) else None

"""A local Web Push service, as a phone's push service would be: it checks the VAPID
signature (RFC 8292) and decrypts the payload (aes128gcm, RFC 8291) with the subscription's
private key, which only the phone would hold, to show exactly what the phone would display.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    subscription: str
    claims: dict[str, Any]
    vapid_key: str
    ttl: str
    payload: dict[str, Any]


@dataclass
class PhoneSubscription:
    """What a phone's browser makes when it subscribes: an endpoint and its two keys."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def as_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class FakePushService:
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # Subscriptions the "phone" dropped: the service answers 410 Gone for them.
    gone: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._phones: dict[str, PhoneSubscription] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    def new_phone(self) -> PhoneSubscription:
        phone = PhoneSubscription(
            endpoint=f"{self.origin}/push/{b64url(os.urandom(12))}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self._phones[phone.endpoint] = phone
        return phone

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        endpoint = f"{self.origin}{request.path}"
        phone = self._phones.get(endpoint)
        if request.method != "POST" or phone is None or endpoint in self.gone:
            return Response("gone", status=410)(environ, start_response)
        try:
            claims, key = self._check_vapid(request.headers.get("Authorization", ""))
        except ValueError as e:
            with self._lock:
                self.refused.append(str(e))
            return Response(str(e), status=401)(environ, start_response)
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return Response("aes128gcm only", status=415)(environ, start_response)
        plain = http_ece.decrypt(
            request.get_data(),
            private_key=phone.private_key,
            auth_secret=phone.auth_secret,
            version="aes128gcm",
        )
        with self._lock:
            self.received.append(
                Received(
                    endpoint,
                    claims,
                    key,
                    request.headers.get("TTL", ""),
                    json.loads(plain),
                )
            )
        return Response("", status=201)(environ, start_response)

    def _check_vapid(self, header: str) -> tuple[dict[str, Any], str]:
        """RFC 8292: `vapid t=<ES256 JWT>, k=<the server's public key>`."""
        if not header.startswith("vapid "):
            raise ValueError("no VAPID authorization")
        parts = dict(
            item.strip().split("=", 1) for item in header[len("vapid ") :].split(",") if "=" in item
        )
        token, key = parts.get("t", ""), parts.get("k", "")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        if jwt.get_unverified_header(token).get("alg") != "ES256":
            raise ValueError("VAPID JWT must be ES256")
        try:
            claims = jwt.decode(
                token,
                public,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except jwt.PyJWTError as e:
            raise ValueError(f"bad VAPID JWT: {e}") from None
        if claims["exp"] > time.time() + 24 * 3600:
            raise ValueError("VAPID JWT lives longer than 24 hours")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise ValueError("VAPID sub must be a mailto: or https: URL")
        return claims, key

"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), via pywebpush.

The phone hands us its push service's address; we only ever post to the push services that
browsers use (or to the origins a test names), so a subscription cannot turn this server into
a proxy for reaching other machines.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from vigparent.config import Settings

# Hosts of the push services Chrome, Firefox, Safari and Edge use.
PUSH_SERVICE_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    ".notify.windows.com",
)
# A notification older than this is not worth showing (a filming-day reminder next week).
TTL_SECONDS = 12 * 3600


class PushGone(Exception):
    """The phone no longer has this subscription (404/410): forget it."""


class PushUnavailable(Exception):
    """The push service could not take it now; a later try may work."""


@dataclass(frozen=True)
class PushSender:
    private_key_pem: str = field(repr=False)
    subject: str
    # Extra origins allowed as push services ("http://127.0.0.1:8123" in tests).
    extra_origins: tuple[str, ...] = ()

    @property
    def public_key(self) -> str:
        """The applicationServerKey a phone subscribes with (base64url, uncompressed point)."""
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        raw = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def accepts_endpoint(self, endpoint: str) -> bool:
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin in self.extra_origins:
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and any(
            host == h or (h.startswith(".") and host.endswith(h)) for h in PUSH_SERVICE_HOSTS
        )

    def send(self, endpoint: str, p256dh: str, auth: str, payload: dict[str, str]) -> None:
        if not self.accepts_endpoint(endpoint):
            raise PushGone("not a push service")
        try:
            webpush(
                subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                data=json.dumps(payload),
                vapid_private_key=Vapid.from_pem(self.private_key_pem.encode()),
                vapid_claims={"sub": self.subject},
                content_encoding="aes128gcm",
                ttl=TTL_SECONDS,
                timeout=10,
            )
        except WebPushException as e:
            status = e.response.status_code if e.response is not None else 0
            if status in (404, 410):
                raise PushGone(str(status)) from None
            raise PushUnavailable(str(status or "unreachable")) from None
        except requests.RequestException:
            raise PushUnavailable("unreachable") from None


def push_sender_for(settings: Settings) -> PushSender | None:
    if not settings.vapid_private_key:
        return None
    return PushSender(settings.vapid_private_key, settings.vapid_subject)

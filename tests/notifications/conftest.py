"""Fixtures: a local GOV.UK Notify and a local push service, wired into the app the way its
settings would wire real ones (notifications.service.init_app)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from tests.notifications.fake_notify import API_KEY, FakeNotify
from tests.notifications.fake_push import FakePushService
from vigparent.notifications import reach, wording
from vigparent.notifications.push import PushSender

# One template id per template name, as an operator would paste them from Notify.
TEMPLATES = tuple(
    (name, str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigparent/{name}")))
    for name in wording.SUGGESTED_TEMPLATES
)
TEMPLATE_IDS = dict(TEMPLATES)

# Distinctive names that must never appear in any message.
FAMILY_LABEL = "Zebedee Quokka-Fairweather"
CARER_NAME = "Ottoline Marchbanks"
CHILD_NAME = "Barnabus"
NEVER_SENT = ("Zebedee", "Quokka", "Fairweather", "Ottoline", "Marchbanks", CHILD_NAME, "bath")


@pytest.fixture
def notify(app: Flask) -> Iterator[FakeNotify]:
    with notify_for(app) as fake:
        yield fake


@contextmanager
def notify_for(app: Flask) -> Iterator[FakeNotify]:
    """The app sends through a local GOV.UK Notify while this lasts."""
    fake = FakeNotify()
    original = app.extensions["vig_settings"]
    app.extensions["vig_settings"] = original.with_overrides(
        notifications_backend="notify",
        notify_api_key=API_KEY,
        notify_base_url=fake.url,
        notify_templates=TEMPLATES,
    )
    reach.init_app(app)
    try:
        yield fake
    finally:
        app.extensions["vig_settings"] = original
        reach.init_app(app)
        fake.close()


@pytest.fixture
def push_service(app: Flask) -> Iterator[FakePushService]:
    fake = FakePushService()
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    app.extensions["vig_push"] = PushSender(pem, "mailto:vig-test@example.org", (fake.origin,))
    yield fake
    reach.init_app(app)
    fake.close()


def assert_private(text: str) -> None:
    """Nothing the family or practitioner wrote, and no name, is in what was sent."""
    for word in NEVER_SENT:
        assert word.lower() not in text.lower(), f"{word!r} was sent"

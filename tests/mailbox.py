"""A real SMTP server (aiosmtpd) on loopback that keeps what the app sends, for tests to read.

`mailbox` (tests/conftest.py) points the app's mail settings at it for one test.
"""

from __future__ import annotations

import re
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port

_LINK = re.compile(r"https?://\S+")


class _Keeper:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()
        return "250 Message accepted for delivery"


class Mailbox:
    """What the SMTP server received, in order."""

    def __init__(self) -> None:
        self._keeper = _Keeper()
        # aiosmtpd checks its server by connecting to the port it was given, so not port 0.
        self.controller = Controller(self._keeper, hostname="127.0.0.1", port=free_port())

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._keeper.changed:
            return list(self._keeper.messages)

    def clear(self) -> None:
        with self._keeper.changed:
            self._keeper.messages.clear()

    def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages to `to`, once at least `count` have arrived (or fail)."""

        def arrived() -> list[EmailMessage]:
            return [m for m in self._keeper.messages if m["To"] == to]

        with self._keeper.changed:
            self._keeper.changed.wait_for(lambda: len(arrived()) >= count, timeout=timeout)
            found = arrived()
        assert len(found) >= count, f"{len(found)} mail(s) to {to}, wanted {count}"
        return found

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def link_in(message: EmailMessage) -> str:
    """The one link in a message's text."""
    links = _LINK.findall(body_of(message))
    assert len(links) == 1, links
    return str(links[0])

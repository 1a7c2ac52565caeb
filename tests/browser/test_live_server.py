"""The browser tests' live server closes every answer, even one the browser hung up on."""

from __future__ import annotations

import gc
from typing import Any

from tests.browser.conftest import closing_every_response


class _Answer:
    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Any:
        yield b"first part"
        yield b"second part"

    def close(self) -> None:
        self.closed = True


def test_an_answer_abandoned_halfway_is_still_closed() -> None:
    answer = _Answer()
    wsgi = closing_every_response(lambda environ, start_response: answer)
    parts = iter(wsgi({}, None))
    assert next(parts) == b"first part"
    del parts  # what werkzeug does when the browser drops the connection mid-answer
    gc.collect()
    assert answer.closed


def test_an_answer_sent_whole_is_closed_once_and_unchanged() -> None:
    answer = _Answer()
    wsgi = closing_every_response(lambda environ, start_response: answer)
    assert list(wsgi({}, None)) == [b"first part", b"second part"]
    assert answer.closed

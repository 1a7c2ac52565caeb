"""Fixtures for streaming tests: one family with a ready recording and a cut, published clip."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import Factory
from tests.media.factories import add_clip, add_cycle, add_recording
from vigparent import media_store
from vigparent.models import Clip, Family, Recording, User


@dataclass
class Filmed:
    family: Family
    parent: User
    practitioner: User
    recording: Recording
    clip: Clip

    def plaintext(self, name: str) -> bytes:
        store = media_store.store()
        with store.open(self.family.id, name) as f:
            return f.read()


@pytest.fixture
def filmed(make: Factory) -> Filmed:
    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    cycle = add_cycle(family)
    recording = add_recording(family, parent, cycle=cycle)
    clip = add_clip(recording)
    return Filmed(family, parent, practitioner, recording, clip)

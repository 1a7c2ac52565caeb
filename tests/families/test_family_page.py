"""The practitioner's family page says what videos arrived and leads to the clip editor."""

from __future__ import annotations

from tests.conftest import Factory, page_text
from tests.media.factories import add_recording


def test_family_page_lists_arrived_videos_and_links_to_clips(client, make: Factory, login_as):
    practitioner = make.practitioner()
    family = make.family(practitioner)
    login_as(practitioner)

    empty = page_text(client.get(f"/practice/families/{family.id}"))
    assert "No videos yet" in empty

    add_recording(family, make.parent_of(family))
    page = page_text(client.get(f"/practice/families/{family.id}"))
    assert "Video from" in page and "Ready to watch" in page
    assert f'href="/practice/clips/families/{family.id}"' in client.get(
        f"/practice/families/{family.id}"
    ).get_data(as_text=True)

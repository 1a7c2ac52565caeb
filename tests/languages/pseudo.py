"""A test-only pseudo catalogue: every message of the .pot with each English letter swapped
for an accented look-alike, placeholders, markup and entities kept. A page rendered with it
shows any English left over (a word nobody marked for translation) as plain ASCII letters.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from vigparent import i18n

_LOOK_ALIKES = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ȧƀƈḓḗƒɠħīĵķŀḿƞǿƥɋřşŧŭṽẇẋẏẑȦƁƇḒḖƑƓĦĪĴĶĿḾȠǾƤɊŘŞŦŬṼẆẊẎẐ",
)
# Kept exactly: placeholders (%(name)s, %s, {name}), tags and character references.
_KEEP = re.compile(r"%\([a-z_0-9]+\)s|%%|%s|\{[a-z_]+\}|<[^>]*>|&[a-z]+;|&#\d+;")


def pseudo(text: str) -> str:
    out, pos = [], 0
    for kept in _KEEP.finditer(text):
        out.append(text[pos : kept.start()].translate(_LOOK_ALIKES))
        out.append(kept.group(0))
        pos = kept.end()
    out.append(text[pos:].translate(_LOOK_ALIKES))
    return "[" + "".join(out) + "]"


def write_pseudo_catalogue(root: Path, language: str) -> Path:
    """<root>/<language>/LC_MESSAGES/messages.mo: every message of the .pot, pseudo-translated."""
    with (i18n.TRANSLATIONS / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    catalogue = Catalog(locale=language)
    for message in template:
        if isinstance(message.id, tuple):  # singular and plural
            catalogue.add(message.id, tuple(pseudo(form) for form in message.id))
        elif message.id:
            catalogue.add(message.id, pseudo(message.id), flags=message.flags)
    folder = root / language / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, catalogue)
    return root


class VisibleText(HTMLParser):
    """Every text node a person sees or hears (not script or style), and the labels of controls."""

    LABELS = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden_depth += 1
        for name, value in attrs:
            if name in self.LABELS and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth and data.strip():
            self.texts.append(data.strip())


def english_left_over(html: str, allowed: set[str]) -> list[str]:
    """Visible texts that still hold English words (runs of 2+ ASCII letters), after removing
    the data a page shows as it is (names, labels, the brand)."""
    parser = VisibleText()
    parser.feed(html)
    left = []
    for text in parser.texts:
        rest = text
        for word in sorted(allowed, key=len, reverse=True):
            rest = rest.replace(word, " ")
        if re.search(r"[A-Za-z]{2,}", rest):
            left.append(text)
    return left

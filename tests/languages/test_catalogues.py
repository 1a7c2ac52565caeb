"""The catalogues: every word a parent can read is in the template, and every shipped language
translates all of it, placeholders and markup intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from vigparent import i18n

ROOT = Path(__file__).resolve().parents[2]
# Placeholders a translation must keep: %(name)s, %s, {name} (push texts), and markup.
_PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)s|%s|\{[a-z_]+\}|<[^>]+>|&[a-z]+;")
# Words a phone shows in its own menus (in English on phones set to English): a translation
# may keep them, in quotes or beside its own words.
PHONE_LABELS = {
    "Add to Home Screen",
    "Add",
    "Add to Home screen",
    "Install app",
    "Add to home screen",
}
# Words spelt the same in the language and in English ("clip" is Welsh too; Polish says
# "Offline"): a translation made only of these is not English left over.
SAME_IN = {"cy": {"clip", "Clip"}, "pl": {"Offline"}, "ur": set()}


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _template() -> Catalog:
    return _read(i18n.TRANSLATIONS / "messages.pot")


def _extracted_now() -> set[str | tuple[str, ...]]:
    """What `make translations` would extract from the source today."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "N_": None,
        "t": None,
        "lazy_gettext": None,
    }
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "vigparent", method_map, options_map, keywords=keywords
    ):
        found.add(message)
    return found


def test_template_is_up_to_date_with_the_source() -> None:
    in_template = {m.id for m in _template() if m.id}
    now = _extracted_now()
    assert now - in_template == set(), "words marked but not extracted: run `make translations`"
    assert in_template - now == set(), "words no longer in the source: run `make translations`"


@pytest.mark.parametrize("language", i18n.TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    path = i18n.TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    catalogue = _read(path, language)
    template_ids = {m.id for m in _template() if m.id}
    assert {m.id for m in catalogue if m.id} == template_ids, "run `make translations`"
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        if isinstance(message.id, tuple):
            assert len(strings) == catalogue.num_plurals, ids
        wanted = sorted(p for p in _PLACEHOLDER.findall(ids[-1]) if p != "%(num)s")
        for string in strings:
            got = sorted(p for p in _PLACEHOLDER.findall(string) if p != "%(num)s")
            if got != wanted:
                problems.append(f"placeholders differ in {ids[0]!r}: {got} != {wanted}")
            if string.strip() == ids[0].strip() and ids[0] not in PHONE_LABELS:
                # Only numbers, names and symbols may stay as they are.
                rest = re.sub(r"%\([a-z_0-9]+\)s|VIG", "", ids[0])
                for word in SAME_IN[language]:
                    rest = rest.replace(word, "")
                if re.search(r"[A-Za-z]{3,}", rest):
                    problems.append(f"left in English: {ids[0]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", i18n.TRANSLATED)
def test_catalogue_says_it_is_a_draft_until_reviewed(language: str) -> None:
    head = (i18n.TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").read_text()[:600]
    assert "not yet reviewed by a qualified translator" in head


def test_script_words_are_the_scripts_own() -> None:
    """The phone scripts' words are found in the scripts, and each is in the catalogue."""
    template_ids = {m.id for m in _template() if m.id}
    assert "Sent. Thank you!" in i18n.SCRIPT_MESSAGES
    assert set(i18n.SCRIPT_MESSAGES) <= template_ids

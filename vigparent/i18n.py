"""The family's language: which one a page speaks, and the catalogues that hold the words.

English is written in the code and templates as it has always been (an English page is
byte-for-byte what it was); Welsh, Polish and Urdu come from Babel catalogues in
vigparent/translations (`make translations` extracts, updates and compiles them). The phone
scripts read the same catalogues: `script_words()` puts the words they use into the page.

Which language a page speaks (first that applies): staff screens are English; a signed-in
parent's family language; the language a visitor chose in the footer; the language of the
invitation link being opened; the phone's Accept-Language among ours; English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from flask import Flask, g, has_request_context, request, session, url_for
from flask_babel import Babel, get_locale, gettext, refresh
from flask_login import current_user
from markupsafe import Markup, escape

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SCRIPTS = Path(__file__).resolve().parent / "static" / "js"
DOMAIN = "messages"
ENGLISH = "en"
# Where a visitor's footer choice is kept before they have joined (their session cookie).
SESSION_KEY = "language"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself: a parent finds their own language by its own name
    english_name: str
    right_to_left: bool = False

    @property
    def direction(self) -> str:
        return "rtl" if self.right_to_left else "ltr"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "English"),
        Language("cy", "Cymraeg", "Welsh"),
        Language("pl", "Polski", "Polish"),
        Language("ur", "اردو", "Urdu", right_to_left=True),
    )
}
TRANSLATED = tuple(code for code in LANGUAGES if code != ENGLISH)
# Staff screens stay English, signed in or not (the sign-in page, a colleague's invitation).
STAFF_BLUEPRINTS = frozenset(
    {"mfa", "practitioner", "staff", "organisation", "supervision", "handover", "reports", "clips"}
)
STAFF_ENDPOINTS = frozenset(
    {"auth.login", "client_errors.admin_list", "languages.review_status", "languages.mark_reviewed"}
)
# <html lang>: English pages say en-GB as they always have.
HTML_LANG = {"en": "en-GB", "cy": "cy", "pl": "pl", "ur": "ur"}


def language_or_english(code: str | None) -> str:
    """A supported language code, or English for anything else (an old or unknown value)."""
    return code if code in LANGUAGES else ENGLISH


def choose_language() -> str:
    """The language of this request (the rule in the module docstring)."""
    if not has_request_context() or staff_page():
        return ENGLISH
    if current_user and current_user.is_authenticated:
        family = current_user.family
        if family is not None:
            return language_or_english(family.language)
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    invited = g.get("invitation_language")
    if invited in LANGUAGES:
        return str(invited)
    return request.accept_languages.best_match(list(LANGUAGES)) or ENGLISH


def staff_page() -> bool:
    """A staff screen or a signed-in member of staff: English, and no language switcher."""
    if request.blueprint in STAFF_BLUEPRINTS or request.endpoint in STAFF_ENDPOINTS:
        return True
    return bool(current_user and current_user.is_authenticated and not current_user.is_parent)


def speak_as_invited(code: str) -> None:
    """An invitation page: unless the visitor chose otherwise, speak the invited language."""
    g.invitation_language = language_or_english(code)


def current_language() -> str:
    """The language being spoken now (English outside a request or a forced locale)."""
    locale = get_locale()
    return language_or_english(locale.language if locale is not None else None)


def current() -> Language:
    return LANGUAGES[current_language()]


def script_words() -> Markup:
    """The phone scripts' words in this page's language, as JSON for a data island.

    `vig.t("English words")` in the scripts looks the English up here; only non-English
    pages carry the table (English needs none). `</` is escaped so no text can end the
    script element.
    """
    if current_language() == ENGLISH:
        return Markup("")
    table = {english: gettext(english) for english in SCRIPT_MESSAGES}
    text = json.dumps(table, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    # Safe as markup: our own catalogue's words, JSON-encoded, with every "</" escaped above.
    island = Markup('<script type="application/json" id="vig-words">{}</script>')
    return island.format(Markup(text))  # noqa: S704


def service_worker_url() -> str:
    """The service worker's URL, with its language when not English (English: as it was)."""
    language = current_language()
    if language == ENGLISH:
        return url_for("pwa.service_worker")
    return url_for("pwa.service_worker", lang=language)


def say_number(number: int) -> str:
    """A whole number as the page's language writes it: '4,000' in English, '4000' in Polish."""
    language = current_language()
    return f"{number:,}" if language == ENGLISH else format_decimal(number, locale=language)


def auto_dir() -> Markup:
    """` dir="auto"` for an element showing what people typed, on a non-English page: a goal
    written in English on an Urdu page keeps its own direction (English pages: nothing)."""
    return Markup("") if current_language() == ENGLISH else Markup(' dir="auto"')


def bdi(text: object) -> Markup:
    """What people typed, inside a sentence: isolated from the page's direction when not English."""
    if current_language() == ENGLISH:
        return escape(text)
    return Markup("<bdi>{}</bdi>").format(text)


def compile_catalogues(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile every .po under root into its .mo (make assets; a wheel then carries them)."""
    written = []
    for po_path in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as po:
            catalogue = read_po(po, locale=po_path.parts[-3])
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as mo:
            write_mo(mo, catalogue, use_fuzzy=False)
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=choose_language,
        default_translation_directories=str(TRANSLATIONS),
        default_domain=DOMAIN,
    )
    # Flask-Babel keeps the chosen locale on `g`, which lives as long as the app context: one
    # context may serve several requests (a CLI, a test), so each request chooses afresh.
    app.before_request(refresh)
    app.jinja_env.globals.update(
        page_language=lambda: HTML_LANG[current_language()],
        page_direction=lambda: current().direction,
        languages=LANGUAGES,
        current_language=current_language,
        script_words=script_words,
        auto_dir=auto_dir,
        staff_page=staff_page,
        bdi=bdi,
    )


def script_messages(js_dir: Path = SCRIPTS) -> tuple[str, ...]:
    """The English of every `vig.t("...")` in the phone scripts, found as `make translations`
    finds them."""
    found: dict[str, None] = {}
    for path in sorted(js_dir.glob("*.js")):
        with path.open("rb") as source:
            for _line, message, _comments, _context in extract(
                "javascript", source, keywords={"t": None}, comment_tags=()
            ):
                if isinstance(message, str):
                    found[message] = None
    return tuple(found)


SCRIPT_MESSAGES: tuple[str, ...] = script_messages()


def N_(text: str) -> str:
    """Mark words for translation where they are defined; translate them where they are shown."""
    return text

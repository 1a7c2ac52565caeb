"""Plain-language error pages (and JSON for the API), one place for every status code."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from vigparent.i18n import N_

# What happened and what to do next, in words a tired parent understands at 11 pm.
MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        N_("Something went wrong with that request"),
        N_("Please go back, refresh the page and try again."),
    ),
    401: (
        N_("Please open your invitation link"),
        N_(
            "To use this app, open the link your practitioner sent you. "
            "If you can't find it, ask them for a new one."
        ),
    ),
    403: (
        N_("You can't do that here"),
        N_("Go back to your home page. Ask your practitioner if stuck."),
    ),
    404: (
        N_("We can't find that page"),
        N_("It may have been moved or deleted. Go back to your home page."),
    ),
    405: (N_("That didn't work"), N_("Please go back and try again.")),
    409: (N_("That changed while you were looking"), N_("Please refresh the page and try again.")),
    410: (
        N_("This has gone"),
        N_("It has expired or been deleted. Ask your practitioner for a new link."),
    ),
    413: (
        N_("That file is too big"),
        N_("Please choose a shorter video (10 minutes at most) and try again."),
    ),
    415: (N_("We can't use that kind of file"), N_("Please choose a video file.")),
    429: (N_("Too many tries"), N_("Please wait a minute, then try again.")),
    500: (
        N_("Sorry, something went wrong on our side"),
        N_("Nothing you saved has been lost. Please try again in a few minutes."),
    ),
}
CSRF_MESSAGE = (
    N_("This page was open too long to send"),
    N_("Please go back, refresh the page and try again. Nothing was changed."),
)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(code: int, title: str | None = None, message: str | None = None) -> Any:
    default_title, default_message = MESSAGES.get(code, MESSAGES[500])
    # In the reader's language; a view's own words are translated when the catalogue has them.
    title, message = gettext(title or default_title), gettext(message or default_message)
    if _wants_json():
        return jsonify(error=title, message=message), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> Any:
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Any:
        code = e.code or 500
        # Views may pass their own plain words via abort(code, description=...).
        custom = e.description if getattr(e, "vig_message", False) else None
        response = make_response(render_error(code, None, custom))
        allow = e.get_response().headers.get("Allow") if code == 405 else None
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(InternalServerError)
    def _server_error(_e: InternalServerError) -> Any:
        return render_error(500)


class PlainError(HTTPException):
    """An HTTP error whose description is written for the person reading it."""

    vig_message = True

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(description=message)

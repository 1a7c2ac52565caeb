"""Plain-language error pages (and JSON for the API), one place for every status code."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

# What happened and what to do next, in words a tired parent understands at 11 pm.
MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        "Something went wrong with that request",
        "Please go back, refresh the page and try again.",
    ),
    401: (
        "Please open your invitation link",
        "To use this app, open the link your practitioner sent you. "
        "If you can't find it, ask them for a new one.",
    ),
    403: ("You can't do that here", "Go back to your home page. Ask your practitioner if stuck."),
    404: (
        "We can't find that page",
        "It may have been moved or deleted. Go back to your home page.",
    ),
    405: ("That didn't work", "Please go back and try again."),
    409: ("That changed while you were looking", "Please refresh the page and try again."),
    410: ("This has gone", "It has expired or been deleted. Ask your practitioner for a new link."),
    413: (
        "That file is too big",
        "Please choose a shorter video (10 minutes at most) and try again.",
    ),
    415: ("We can't use that kind of file", "Please choose a video file."),
    429: ("Too many tries", "Please wait a minute, then try again."),
    500: (
        "Sorry, something went wrong on our side",
        "Nothing you saved has been lost. Please try again in a few minutes.",
    ),
}
CSRF_MESSAGE = (
    "This page was open too long to send",
    "Please go back, refresh the page and try again. Nothing was changed.",
)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(code: int, title: str | None = None, message: str | None = None) -> Any:
    default_title, default_message = MESSAGES.get(code, MESSAGES[500])
    title, message = title or default_title, message or default_message
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

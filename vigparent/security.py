"""Request security in one place: sign-in, CSRF, rate limits, headers, deny-by-default.

Every view is closed unless marked `@public`; blueprints then narrow by role with
`require_role`. A view that forgets a decorator is therefore refused, never exposed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import IO, Any, TypeVar

from flask import Flask, Request, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from vigparent.models import Role

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()

F = TypeVar("F", bound=Callable[..., Any])

# Parent-only pages: a signed-out visitor gets "open your invitation link", never the staff
# sign-in form (parents have no password).
PARENT_BLUEPRINTS = {"parent", "capture", "consent", "review"}
# Parents' pages in blueprints shared with staff.
PARENT_ENDPOINTS = {"live.parent_room", "live.invitation"}


def _parent_page() -> bool:
    return request.blueprint in PARENT_BLUEPRINTS or request.endpoint in PARENT_ENDPOINTS


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def signed_in_device() -> str:
    """A rate-limit key: the signed-in device where there is one, else the client's address.

    Many parents share one mobile carrier's address, so what a signed-in phone may do is
    counted per sign-in, never per IP. (Only a hash of the sign-in's secret is kept.)
    """
    token = getattr(current_user, "session_token", None) if current_user else None
    if token:
        return "device:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return get_remote_address()


# Sent when staff sign out: nothing of the caseload stays in that browser.
CLEAR_ON_SIGN_OUT = '"cache", "storage"'
# Sent with a 401 to a parent page (a lost phone that was signed out). Only the HTTP cache:
# "storage" would also empty IndexedDB, where unsent videos wait, and a parent must never lose
# one; the service worker drops its own saved pages when it sees the 401 (static/js/sw.js).
CLEAR_ON_PARENT_401 = '"cache"'


def begin_sign_in() -> None:
    """Start a signed-in session afresh: no CSRF token or anything else from before survives.

    Call before `login_user`, so a token planted in the signed-out session is useless after.
    """
    session.clear()
    g.pop("csrf_token", None)


def public(view: F) -> F:
    """Mark a view as reachable without signing in."""
    view.vig_public = True  # type: ignore[attr-defined]
    return view


def keeps_session_cookie(view: F) -> F:
    """Mark a small JSON answer that sends no session cookie unless the session changed.

    Parents stay signed in for months because every answer renews the cookie; pages do that
    plenty. A live review sends a command every second or two, and the renewed cookie was about
    a fifth of the bytes of each one; an upload sends a PATCH every few MiB, and signing a new
    cookie for each was work for nothing.
    """
    view.vig_keeps_session_cookie = True  # type: ignore[attr-defined]
    return view


class _SessionCookie(SecureCookieSessionInterface):
    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "vig_keeps_session_cookie", False):
            return bool(session.modified)
        return super().should_set_cookie(app, session)


def require_role(*roles: Role) -> Callable[[], Any]:
    """A blueprint `before_request` hook: only these roles may use the blueprint."""

    def check() -> Any:
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "vig_public", False):
            return None
        if not current_user.is_authenticated:
            return _signed_out_response()
        if current_user.role not in roles:
            abort(404)
        return None

    return check


def _signed_out_response() -> Any:
    if request.path.startswith("/api/"):
        abort(401)
    if _parent_page():
        # Parents never have a password: the only way in is their invitation link.
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class NoSpoolRequest(Request):
    """A request whose form file parts are refused instead of spooled to a temporary file.

    Werkzeug writes file parts over 500 KB to disk while parsing, in plaintext, and CSRF
    protection parses every POST body. Media arrives only through tus, streamed straight into
    encrypted storage (DESIGN.md §7: no plaintext media on the server's disk).
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.request_class = NoSpoolRequest
    app.session_interface = _SessionCookie()
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "auth.login"

    from vigparent.auth import service as auth_service

    login_manager.user_loader(auth_service.load_signed_in_user)

    @app.before_request
    def deny_by_default() -> Any:
        # Flask-Login caches the user on `g`; when an app context outlives one request (tests,
        # jobs run inline) the next request must still check its own session afresh.
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        if request.endpoint is None or request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "vig_public", False) or current_user.is_authenticated:
            return None
        return _signed_out_response()

    @app.after_request
    def security_headers(response: Any) -> Any:
        h = response.headers
        h.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.extensions["vig_settings"].secure_cookies:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static" and "Cache-Control" not in h:
            # Pages show personal data: never store them in shared or disk caches.
            h["Cache-Control"] = "private, no-store"
        if response.status_code == 401 and _parent_page():
            h.setdefault("Clear-Site-Data", CLEAR_ON_PARENT_401)
        return response

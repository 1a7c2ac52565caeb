"""The tus 1.0.0 upload endpoint for recordings, and the phone's status check.

Views only translate HTTP ⇄ service calls; the rules are in ``uploads.service`` (its refusals,
with their status codes and words, in ``uploads.refusals``), the tus
header formats in ``uploads.tus`` and how a body is read off the connection, within its
deadlines, in ``uploads.body``. The exact contract with the phone is in docs/upload-contract.md.

Expect: 100-continue needs nothing here: the WSGI server sends the interim 100 itself (werkzeug
and gunicorn when the request starts, waitress once the headers are in).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from vigparent.errors import CSRF_MESSAGE, MESSAGES
from vigparent.models import Role
from vigparent.recordings import service as recordings
from vigparent.recordings.service import RecordingRefused
from vigparent.security import (
    keeps_session_cookie,
    limiter,
    public,
    require_role,
    signed_in_device,
)
from vigparent.uploads import refusals, service, tus
from vigparent.uploads.body import Body

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")
bp.before_request(require_role(Role.PARENT))

# Requests that speak tus (and so must say which version); the status GET does not.
_TUS_METHODS = frozenset({"POST", "HEAD", "PATCH", "DELETE"})
_HTTP_CODES = {400: "bad_request", 401: "not_signed_in", 404: "not_found", 405: "bad_request"}


@bp.before_request
def _check_tus_version() -> Any:
    if request.method in _TUS_METHODS and request.headers.get("Tus-Resumable") != tus.TUS_VERSION:
        response = _error(
            412, "unsupported_version", MESSAGES[400][0], "This app needs updating. Please reload."
        )
        response.headers["Tus-Version"] = tus.TUS_VERSION
        return response
    return None


@bp.after_request
def _tus_headers(response: Response) -> Response:
    # tus wants this on every response; the app's security headers already add
    # "Cache-Control: private, no-store", which covers the no-store tus asks of HEAD.
    response.headers["Tus-Resumable"] = tus.TUS_VERSION
    if (
        response.status_code in (201, 204)
        or request.method == "HEAD"
        and response.status_code == 200
    ):
        # No body, so no type (Flask would otherwise claim text/html).
        response.headers.pop("Content-Type", None)
    return response


def _error(status: int, code: str, title: str, message: str, **extra: Any) -> Response:
    response = jsonify(error=title, message=message, code=code, **extra)
    response.status_code = status
    return response


@bp.errorhandler(RecordingRefused)
def _refused(e: RecordingRefused) -> Response:
    extra = {"reason": e.reason} if e.reason else {}
    response = _error(e.status, e.code, e.title, e.message, **extra)
    if isinstance(e, refusals.OffsetMismatch):
        response.headers["Upload-Offset"] = str(e.offset)
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(_e: CSRFError) -> Response:
    # Registered by class (not only via HTTPException) to win over the app's CSRF page.
    return _error(400, "csrf", *CSRF_MESSAGE)


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Response:
    code = e.code or 500
    title, message = MESSAGES.get(code, MESSAGES[500])
    return _error(code, _HTTP_CODES.get(code, "server_error"), title, message)


# -- discovery -----------------------------------------------------------------------------


@bp.route("", methods=["OPTIONS"], provide_automatic_options=False)
@bp.route("/<upload_id>", methods=["OPTIONS"], provide_automatic_options=False)
@public
def options(upload_id: str | None = None) -> Response:
    response = Response(status=204)
    response.headers.update(
        {
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": tus.EXTENSIONS,
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
            "Tus-Max-Size": str(service.max_upload_bytes()),
        }
    )
    return response


# -- tus requests --------------------------------------------------------------------------


def _body() -> Body | None:
    """The request body as an upload chunk, or None when there is none."""
    if not tus.is_offset_stream(request.headers.get("Content-Type")):
        if request.content_length:
            raise refusals.WrongContentType()
        return None
    try:
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
    except tus.TusHeaderError:
        raise refusals.BadUploadRequest() from None
    length = request.content_length
    if length is None:
        return Body(request.stream, None, checksum)  # chunked: werkzeug de-chunks
    # Straight from the server (PEP 3333's wsgi.input; we never read past ``length``): nothing
    # has read the body yet, since CSRF looks at headers and form fields and this is no form.
    return Body(request.environ["wsgi.input"], length, checksum)


def _with_state(response: Response, state: service.UploadState) -> Response:
    response.headers["Upload-Offset"] = str(state.offset)
    if state.expires_at is not None:
        response.headers["Upload-Expires"] = tus.http_date(state.expires_at)
    return response


def _upload_limit() -> str:
    return str(current_app.extensions["vig_settings"].upload_rate_limit)


@bp.route("", methods=["POST"], provide_automatic_options=False)
@limiter.limit(_upload_limit, key_func=signed_in_device)
def create() -> Response:
    if "Upload-Defer-Length" in request.headers:
        raise refusals.BadUploadRequest()  # creation-defer-length is not offered
    try:
        length = tus.parse_nonnegative_int(request.headers.get("Upload-Length"), "Upload-Length")
    except tus.TusHeaderError:
        raise refusals.BadUploadRequest() from None
    state, _created = service.create_upload(
        current_user,
        length=length,
        metadata_header=request.headers.get("Upload-Metadata"),
        body=_body(),
    )
    response = _with_state(Response(status=201), state)
    response.headers["Location"] = state.location
    return response


@bp.route("/<upload_id>", methods=["HEAD"], provide_automatic_options=False)
@keeps_session_cookie
def head(upload_id: str) -> Response:
    state = service.upload_state(current_user, upload_id)
    response = _with_state(Response(status=200), state)
    response.headers["Upload-Length"] = str(state.length)
    if state.metadata:
        response.headers["Upload-Metadata"] = state.metadata
    return response


@bp.route("/<upload_id>", methods=["PATCH"], provide_automatic_options=False)
@keeps_session_cookie
def patch(upload_id: str) -> Response:
    if not tus.is_offset_stream(request.headers.get("Content-Type")):
        raise refusals.WrongContentType()
    try:
        offset = tus.parse_nonnegative_int(request.headers.get("Upload-Offset"), "Upload-Offset")
    except tus.TusHeaderError:
        raise refusals.BadUploadRequest() from None
    body = _body()
    assert body is not None  # the content type was checked above
    state = service.write_chunk(current_user, upload_id, offset=offset, body=body)
    return _with_state(Response(status=204), state)


@bp.route("/<upload_id>", methods=["DELETE"], provide_automatic_options=False)
def terminate(upload_id: str) -> Response:
    service.terminate(current_user, upload_id)
    return Response(status=204)


@bp.route("/<upload_id>", methods=["POST"], provide_automatic_options=False)
def method_override(upload_id: str) -> Response:
    """tus asks servers to honour X-HTTP-Method-Override (for proxies that drop PATCH)."""
    views = {"PATCH": patch, "DELETE": terminate, "HEAD": head}
    view = views.get(request.headers.get("X-HTTP-Method-Override", "").upper())
    if view is None:
        return _error(405, "bad_request", *MESSAGES[405])
    return view(upload_id)


# -- the phone's status check --------------------------------------------------------------


@bp.get("/status", provide_automatic_options=False)
def status() -> Response:
    """Where a recording is; the phone deletes its copy only once this says it is safe."""
    family = service.parent_family(current_user)
    client_id = request.args.get("client_id")
    if client_id is None:
        rows = recordings.recordings_of_parent(family)
        return jsonify(recordings=[recordings.status_json(r) for r in rows])
    try:
        client_id = str(uuid.UUID(client_id))
    except ValueError:
        raise refusals.UploadNotFound() from None
    recording = recordings.find_by_client_id(family, client_id)
    if recording is None:
        raise refusals.UploadNotFound()
    return jsonify(recordings.status_json(recording))

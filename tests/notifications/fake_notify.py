"""A local GOV.UK Notify: checks the API-key JWT as Notify does, records what it was sent, and
answers with Notify's documented success and error shapes.

Notify's API keys are "<key name>-<service id>-<secret>". Every request carries
`Authorization: Bearer <JWT>`, signed HS256 with the secret, with `iss` = the service id and
`iat` within 30 seconds of Notify's clock; anything else is a 403 AuthError.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SERVICE_ID = "1b9c7b6a-4e0c-4a2f-9f3e-2d6c0e8a5b11"
SECRET = "5f0d6e2b-8c1a-4b7e-a3d9-6e4f1c2b7a90"
API_KEY = f"vigparent_test-{SERVICE_ID}-{SECRET}"
CLOCK_SKEW_S = 30

# Notify's documented error answers (docs.notifications.service.gov.uk, "Error codes").
RATE_LIMIT = (
    429,
    "RateLimitError",
    "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
)
BAD_PHONE = (400, "ValidationError", "phone_number Not a UK mobile number")
TRIAL_MODE = (
    400,
    "BadRequestError",
    "Can't send to this recipient when service is in trial mode - see "
    "https://www.notifications.service.gov.uk/trial-mode",
)
SERVER_ERROR = (500, "Exception", "Internal server error")


@dataclass
class Sent:
    path: str
    body: dict[str, Any]


@dataclass
class FakeNotify:
    sent: list[Sent] = field(default_factory=list)
    refused_tokens: list[str] = field(default_factory=list)
    # Answers for the next POSTs, in order: (status, error name, message).
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    # -- the service -------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        refusal = self._check_token(request.headers.get("Authorization", ""))
        if refusal is not None:
            with self._lock:
                self.refused_tokens.append(refusal)
            return _errors(403, "AuthError", refusal)(environ, start_response)
        if request.method == "POST" and request.path in (
            "/v2/notifications/sms",
            "/v2/notifications/email",
        ):
            return self._send(request)(environ, start_response)
        if request.method == "GET" and request.path.startswith("/v2/notifications/"):
            found = request.path.rsplit("/", 1)[-1]
            with self._lock:
                status = self.statuses.get(found)
            if status is None:
                return _errors(404, "NoResultFound", "No result found")(environ, start_response)
            return _json(200, {"id": found, "status": status})(environ, start_response)
        return _errors(404, "NotFound", "Not found")(environ, start_response)

    def _check_token(self, header: str) -> str | None:
        """None when the token is good, else Notify's message for what is wrong with it."""
        if not header.startswith("Bearer "):
            return "Unauthorized: authentication token must be provided"
        token = header[len("Bearer ") :]
        try:
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return "Invalid token: algorithm used is not HS256"
            claims = jwt.decode(
                token,
                SECRET,
                algorithms=["HS256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return "Invalid token: API key not found"
        except jwt.PyJWTError:
            return "Invalid token: signature, api token not found"
        if claims["iss"] != SERVICE_ID:
            return "Invalid token: service not found"
        if abs(time.time() - int(claims["iat"])) > CLOCK_SKEW_S:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _send(self, request: Request) -> Response:
        body = request.get_json()
        with self._lock:
            self.sent.append(Sent(request.path, body))
            if self.errors:
                return _errors(*self.errors.pop(0))
            found = str(uuid.uuid4())
            self.statuses[found] = "sending"
        return _json(
            201,
            {
                "id": found,
                "reference": body.get("reference"),
                "content": {"body": "(template text)", "from_number": "GOVUK"},
                "uri": f"{self.url}/v2/notifications/{found}",
                "template": {"id": body["template_id"], "version": 1, "uri": ""},
            },
        )

    # -- for tests ---------------------------------------------------------------------------

    def set_status(self, status: str) -> None:
        """Notify's delivery status for every message so far (e.g. "delivered")."""
        with self._lock:
            for found in self.statuses:
                self.statuses[found] = status


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _errors(status: int, name: str, message: str) -> Response:
    return _json(status, {"status_code": status, "errors": [{"error": name, "message": message}]})

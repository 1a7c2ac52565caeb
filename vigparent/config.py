"""Settings from the environment, with embedded defaults under the data directory.

This is the only module that reads the environment. `Settings` is frozen: nothing changes
configuration after start-up.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vigparent.keyring import load_or_create_master_key, master_key_from_b64
from vigparent.video_sandbox import VideoLimits

_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "password", "test"}
MIN_SECRET_LENGTH = 32
# By the estimate below `secrets.token_urlsafe(32)` scores about 200 bits and
# `secrets.token_hex(16)` about 115 (the estimate is pessimistic); 40 × "a" scores 0.
MIN_SECRET_BITS = 96


class ConfigError(RuntimeError):
    """The app refuses to start: configuration is missing or unsafe."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    master_key: bytes = field(repr=False)
    # Where the master key was read from; None when it came from VIGPARENT_MASTER_KEY (then
    # `vig rotate-master-key` prints the new key instead of writing it).
    master_key_file: Path | None = None
    base_url: str = "http://127.0.0.1:5000"
    production: bool = False
    testing: bool = False
    # Jobs run inline only in tests; everywhere else a consumer process runs them.
    jobs_immediate: bool = False
    max_upload_bytes: int = 2 * 1024**3
    upload_expiry_hours: int = 72
    # A phone's PATCH body: the longest wait for its next bytes, and the longest one PATCH may
    # take in all. Past either, what arrived is kept and the phone resumes (uploads/body.py).
    upload_idle_timeout_s: float = 60.0
    upload_patch_deadline_s: float = 600.0
    # New uploads a signed-in phone may start; keyed to its sign-in, not its IP address, since
    # many parents share one mobile carrier's address.
    upload_rate_limit: str = "60 per hour"
    login_rate_limit: str = "10 per minute"
    invitation_rate_limit: str = "20 per minute"
    # Per address; guessing is held back per person (auth.mfa.LOCK_FAILURES), and a whole
    # office behind one address signs in through this step at nine o'clock.
    second_factor_rate_limit: str = "30 per minute"
    rate_limit_storage_uri: str = "memory://"
    redis_url: str = ""
    practitioner_idle_hours: int = 12
    parent_session_days: int = 180
    # How many reverse proxies (nginx) stand in front and set X-Forwarded-For/-Proto/-Host.
    # 0 trusts no forwarded header: each client is then the socket's peer.
    trusted_proxies: int = 0
    # CPU, memory and wall time for each video worker (decoding runs away from the keys).
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    # Texts and emails: "log" (development: logs the kind of message only) or "notify"
    # (GOV.UK Notify). Templates live in Notify and are referenced by id (notifications/).
    notifications_backend: str = "log"
    notify_api_key: str = field(default="", repr=False)
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    # (template name, Notify template id) pairs, e.g. ("invitation_sms", "f33517ff-...").
    notify_templates: tuple[tuple[str, str], ...] = ()
    # Web Push (VAPID): the server's P-256 private key as PEM; "" offers no push at all.
    vapid_private_key: str = field(default="", repr=False)
    vapid_subject: str = "mailto:admin@example.org"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def key_dir(self) -> Path:
        # Wrapped data keys live apart from media and from the database, so a restored
        # database backup cannot bring back a key that withdrawal destroyed.
        return self.data_dir / "keys"

    @property
    def jobs_db(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


def _secret_file(path: Path, nbytes: int) -> str:
    """Read a generated secret, creating it with mode 0600 on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


def load_or_create_vapid_key(path: Path) -> str:
    """The Web Push (VAPID) private key as PEM, generated (mode 0600) on first use."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    return path.read_text().strip()


def estimated_entropy_bits(secret: str) -> float:
    """A pessimistic strength estimate: length × the string's own per-character entropy.

    Repeats and small alphabets score low ("aaaa…" is 0 bits, "abab…" 1 bit a character);
    a random token scores close to its true strength.
    """
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def _notify_templates(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Every NOTIFY_TEMPLATE_<NAME>=<id> variable, as (name, id) pairs."""
    prefix = "NOTIFY_TEMPLATE_"
    return tuple(
        sorted(
            (name[len(prefix) :].lower(), value.strip())
            for name, value in env.items()
            if name.startswith(prefix) and value.strip()
        )
    )


def _notification_settings(env: dict[str, str], data_dir: Path) -> dict[str, Any]:
    backend = env.get("VIGPARENT_NOTIFICATIONS", "log").strip() or "log"
    if backend not in ("log", "notify"):
        raise ConfigError(f"VIGPARENT_NOTIFICATIONS must be 'log' or 'notify', not {backend!r}.")
    api_key = env.get("NOTIFY_API_KEY", "").strip()
    if backend == "notify" and len(api_key) < 74:
        # A Notify key is "name-<service id>-<secret>": two UUIDs at its end.
        raise ConfigError("Set NOTIFY_API_KEY to your GOV.UK Notify API key to send messages.")
    vapid = env.get("VIGPARENT_VAPID_PRIVATE_KEY", "").strip()
    if not vapid and env.get("VIGPARENT_VAPID_PRIVATE_KEY_FILE"):
        vapid = Path(env["VIGPARENT_VAPID_PRIVATE_KEY_FILE"]).read_text().strip()
    if not vapid:
        vapid = load_or_create_vapid_key(data_dir / "vapid_private.pem")
    return {
        "notifications_backend": backend,
        "notify_api_key": api_key,
        "notify_base_url": env.get("NOTIFY_BASE_URL", "").strip().rstrip("/")
        or "https://api.notifications.service.gov.uk",
        "notify_templates": _notify_templates(env),
        "vapid_private_key": vapid,
        "vapid_subject": env.get("VIGPARENT_VAPID_SUBJECT", "").strip()
        or "mailto:admin@example.org",
    }


def _int_setting(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.")
    return int(raw)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from environment variables; refuse unsafe production settings."""
    env = dict(os.environ if env is None else env)
    production = env.get("VIGPARENT_ENV", "development") == "production"
    data_dir = Path(env.get("VIGPARENT_DATA_DIR") or Path.cwd() / "instance").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)

    secret_key = env.get("SECRET_KEY", "")
    base_url = env.get("VIGPARENT_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    if production:
        if (
            secret_key.lower() in _WEAK_SECRETS
            or len(secret_key) < MIN_SECRET_LENGTH
            or estimated_entropy_bits(secret_key) < MIN_SECRET_BITS
        ):
            raise ConfigError(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters in production, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if not base_url.startswith("https://"):
            # Without TLS, session cookies and invitation links travel in the clear.
            raise ConfigError(
                "VIGPARENT_BASE_URL must start with https:// in production "
                "(put nginx with TLS in front; see deploy/)."
            )
    elif not secret_key:
        secret_key = _secret_file(data_dir / "secret_key", 48)

    key_file: Path | None = None
    if env.get("VIGPARENT_MASTER_KEY"):
        master_key = master_key_from_b64(env["VIGPARENT_MASTER_KEY"])
    elif production and not env.get("VIGPARENT_MASTER_KEY_FILE"):
        raise ConfigError("Set VIGPARENT_MASTER_KEY or VIGPARENT_MASTER_KEY_FILE in production.")
    else:
        key_file = Path(env.get("VIGPARENT_MASTER_KEY_FILE") or data_dir / "master.key")
        master_key = load_or_create_master_key(key_file)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'vigparent.sqlite3'}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        master_key=master_key,
        master_key_file=key_file,
        base_url=base_url,
        production=production,
        max_upload_bytes=int(env.get("VIGPARENT_MAX_UPLOAD_BYTES", 2 * 1024**3)),
        upload_idle_timeout_s=float(env.get("VIGPARENT_UPLOAD_IDLE_TIMEOUT_S", 60)),
        upload_patch_deadline_s=float(env.get("VIGPARENT_UPLOAD_PATCH_DEADLINE_S", 600)),
        rate_limit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
        redis_url=env.get("HUEY_REDIS_URL", ""),
        trusted_proxies=_int_setting(env, "TRUSTED_PROXIES", 0),
        **_notification_settings(env, data_dir),
    )

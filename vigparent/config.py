"""Settings from the environment, with embedded defaults under the data directory.

This is the only module that reads the environment. `Settings` is frozen: nothing changes
configuration after start-up. Reading settings writes nothing: the development secrets are
made once by an explicit step, `vig-init-secrets` (`make run` runs it).
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vigparent.keyring import load_or_create_master_key, master_key_from_b64, read_master_key
from vigparent.video_sandbox import VideoLimits

if TYPE_CHECKING:
    from flask import Flask

_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "password", "test"}
MIN_SECRET_LENGTH = 32
# By the estimate below `secrets.token_urlsafe(32)` scores about 200 bits and
# `secrets.token_hex(16)` about 115 (the estimate is pessimistic); 40 × "a" scores 0.
MIN_SECRET_BITS = 96
MAIL_BACKENDS = ("smtp", "log")


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
    # URLs that may carry a password stay out of repr (and so out of logs).
    rate_limit_storage_uri: str = field(default="memory://", repr=False)
    # Several web nodes (README): Redis for jobs, rate limits, upload locks and the live
    # fan-out; media in an S3-compatible bucket; wrapped keys in a database of their own.
    redis_url: str = field(default="", repr=False)
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_prefix: str = "media/"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = field(default="", repr=False)
    # Bytes of a tus PATCH sealed in memory before they are PUT as one object (object_store).
    s3_segment_bytes: int = 8 * 1024 * 1024
    keystore_url: str = field(default="", repr=False)
    # How long a dead node's upload lock outlives it (uploads.locks); renewed while alive.
    upload_lock_ttl_s: float = 15.0
    practitioner_idle_hours: int = 12
    parent_session_days: int = 180
    # How many reverse proxies (nginx) stand in front and set X-Forwarded-For/-Proto/-Host.
    # 0 trusts no forwarded header: each client is then the socket's peer.
    trusted_proxies: int = 0
    # CPU, memory and wall time for each video worker (decoding runs away from the keys).
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    # Argon2id cost of each staff password hash: argon2-cffi's recommended defaults (about
    # 50 ms and 64 MiB a hash). Tests use the cheapest cost; never lower it in production.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    # Mail (vigparent/mail.py): "smtp" sends through the server below; "log" (development
    # only) just logs that a mail of some kind was sent, never its link.
    mail_backend: str = "smtp"
    mail_from: str = "vigparent@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    # "" (plain, for a relay on the same machine), "starttls" or "ssl".
    smtp_tls: str = ""
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    # Forgotten-password requests: per address (whoever asks) and per client address.
    reset_request_rate_limit: str = "5 per 15 minutes"
    reset_request_address_limit: str = "3 per hour"
    password_reset_minutes: int = 60
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


def settings_of(app: Flask) -> Settings:
    """The settings an app was built with."""
    s: Settings = app.extensions["vig_settings"]
    return s


SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MASTER_KEY_FILE = "master.key"
VAPID_KEY_FILE = "vapid_private.pem"
INIT_SECRETS = "vig-init-secrets"


def _missing_secret(what: str, path: Path, production: bool) -> ConfigError:
    if production:
        return ConfigError(
            f"There is no {what} at {path} (VIGPARENT_MASTER_KEY_FILE). Create it once with "
            f"`{INIT_SECRETS}` in this environment, or set VIGPARENT_MASTER_KEY instead."
        )
    return ConfigError(
        f"There is no {what} at {path} yet. Create the development secrets once with "
        f"`{INIT_SECRETS}` (`make run` does this), or set SECRET_KEY and VIGPARENT_MASTER_KEY."
    )


@dataclass(frozen=True)
class _Paths:
    """Production?, the data dir, and the files the environment leaves each secret to (None
    where the environment holds the secret itself, or production has no such file)."""

    production: bool
    data_dir: Path
    secret_file: Path | None
    key_file: Path | None
    vapid_file: Path | None


def _paths(env: dict[str, str]) -> _Paths:
    production = env.get("VIGPARENT_ENV", "development") == "production"
    data_dir = Path(env.get("VIGPARENT_DATA_DIR") or Path.cwd() / "instance").resolve()
    secret_file = None if production or env.get("SECRET_KEY") else data_dir / SECRET_KEY_FILE
    key_file: Path | None = None
    if not env.get("VIGPARENT_MASTER_KEY") and not (
        production and not env.get("VIGPARENT_MASTER_KEY_FILE")
    ):
        key_file = Path(env.get("VIGPARENT_MASTER_KEY_FILE") or data_dir / MASTER_KEY_FILE)
    vapid_file: Path | None = None
    if env.get("VIGPARENT_VAPID_PRIVATE_KEY_FILE"):
        vapid_file = Path(env["VIGPARENT_VAPID_PRIVATE_KEY_FILE"])
    elif not (production or env.get("VIGPARENT_VAPID_PRIVATE_KEY")):
        vapid_file = data_dir / VAPID_KEY_FILE
    return _Paths(production, data_dir, secret_file, key_file, vapid_file)


def _write_new_secret(path: Path, secret: bytes) -> bool:
    """Create ``path`` (mode 0600) holding ``secret``; False, keeping it, if it exists already
    (made meanwhile: make run and make worker started together)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return True


def init_secrets(env: dict[str, str] | None = None) -> list[Path]:
    """Create the data dir (0700) and the secrets the environment leaves to files (0600);
    return the files made. Existing secrets are kept, so running it again changes nothing.

    Production makes no secret key (it must come from SECRET_KEY), and a master key or a Web
    Push (VAPID) key only where VIGPARENT_MASTER_KEY_FILE or VIGPARENT_VAPID_PRIVATE_KEY_FILE
    names its file; development makes both in the data dir unless the environment gives them.
    """
    env = dict(os.environ if env is None else env)
    paths = _paths(env)
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.data_dir, 0o700)
    made = []
    secret_file, key_file, vapid_file = paths.secret_file, paths.key_file, paths.vapid_file
    if secret_file is not None and _write_new_secret(
        secret_file, secrets.token_urlsafe(48).encode()
    ):
        made.append(secret_file)
    if key_file is not None and not key_file.exists():
        load_or_create_master_key(key_file)
        made.append(key_file)
    if vapid_file is not None and not vapid_file.exists():
        # Web Push; without it the app offers no push.
        vapid_file.parent.mkdir(parents=True, exist_ok=True)
        if _write_new_secret(vapid_file, _new_vapid_key()):
            made.append(vapid_file)
    return made


def init_secrets_main() -> None:
    """`vig-init-secrets`: create the development secrets (the explicit step before start)."""
    made = init_secrets()
    print("\n".join(f"Created {p}" for p in made) or "The secrets are already there.")


def _new_vapid_key() -> bytes:
    """A new Web Push (VAPID) private key: P-256, as PEM."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


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


def _notification_settings(env: dict[str, str], vapid_file: Path | None) -> dict[str, Any]:
    backend = env.get("VIGPARENT_NOTIFICATIONS", "log").strip() or "log"
    if backend not in ("log", "notify"):
        raise ConfigError(f"VIGPARENT_NOTIFICATIONS must be 'log' or 'notify', not {backend!r}.")
    api_key = env.get("NOTIFY_API_KEY", "").strip()
    if backend == "notify" and len(api_key) < 74:
        # A Notify key is "name-<service id>-<secret>": two UUIDs at its end.
        raise ConfigError("Set NOTIFY_API_KEY to your GOV.UK Notify API key to send messages.")
    vapid = env.get("VIGPARENT_VAPID_PRIVATE_KEY", "").strip()
    if not vapid and vapid_file is not None and vapid_file.exists():  # vig-init-secrets made it
        vapid = vapid_file.read_text().strip()
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
    """Build settings from environment variables; refuse unsafe production settings.

    Only reads: a secret left to a file that is not there yet is a ConfigError naming
    `vig-init-secrets`.
    """
    env = dict(os.environ if env is None else env)
    paths = _paths(env)
    production, data_dir = paths.production, paths.data_dir
    secret_file, key_file = paths.secret_file, paths.key_file

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
    elif secret_file is not None:
        try:
            secret_key = secret_file.read_text().strip()
        except FileNotFoundError:
            raise _missing_secret("secret key", secret_file, production) from None

    if env.get("VIGPARENT_MASTER_KEY"):
        master_key = master_key_from_b64(env["VIGPARENT_MASTER_KEY"])
    elif key_file is None:
        raise ConfigError("Set VIGPARENT_MASTER_KEY or VIGPARENT_MASTER_KEY_FILE in production.")
    else:
        try:
            master_key = read_master_key(key_file)
        except FileNotFoundError:
            raise _missing_secret("master key", key_file, production) from None

    s3_key_id = env.get("VIGPARENT_S3_ACCESS_KEY_ID", "").strip()
    s3_secret = env.get("VIGPARENT_S3_SECRET_ACCESS_KEY", "").strip()
    if bool(s3_key_id) != bool(s3_secret):
        # Neither (boto3 then finds its own, e.g. an instance role) or both.
        raise ConfigError(
            "Set both VIGPARENT_S3_ACCESS_KEY_ID and VIGPARENT_S3_SECRET_ACCESS_KEY, or neither."
        )
    # VIGPARENT_REDIS_URL; HUEY_REDIS_URL is its older name (jobs only, then).
    redis_url = (env.get("VIGPARENT_REDIS_URL") or env.get("HUEY_REDIS_URL") or "").strip()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'vigparent.sqlite3'}"
    s3_bucket = env.get("VIGPARENT_S3_BUCKET", "").strip()
    keystore_url = env.get("VIGPARENT_KEYSTORE_URL", "").strip()
    if keystore_url and keystore_url == database_url:
        raise ConfigError(
            "VIGPARENT_KEYSTORE_URL must name a database of its own, not DATABASE_URL: the "
            "families' keys must stay out of the app database and its backups."
        )
    if production and s3_bucket and not keystore_url:
        # Each node would keep its own keys: a withdrawal on one node would leave another
        # node's key to the same family's media behind.
        raise ConfigError(
            "Media in a bucket (VIGPARENT_S3_BUCKET) needs VIGPARENT_KEYSTORE_URL in "
            "production: one key store every web node shares."
        )
    mail_backend = env.get("VIGPARENT_MAIL_BACKEND", "smtp").strip() or "smtp"
    if mail_backend not in MAIL_BACKENDS or (production and mail_backend != "smtp"):
        raise ConfigError("VIGPARENT_MAIL_BACKEND must be smtp (or log, in development only).")
    smtp_tls = env.get("VIGPARENT_SMTP_TLS", "").strip().lower()
    if smtp_tls not in ("", "starttls", "ssl"):
        raise ConfigError("VIGPARENT_SMTP_TLS must be empty, starttls or ssl.")
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
        rate_limit_storage_uri=env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        redis_url=redis_url,
        s3_bucket=s3_bucket,
        s3_endpoint_url=env.get("VIGPARENT_S3_ENDPOINT_URL", "").strip(),
        s3_region=env.get("VIGPARENT_S3_REGION", "").strip(),
        s3_prefix=env.get("VIGPARENT_S3_PREFIX", "media/").strip(),
        s3_access_key_id=s3_key_id,
        s3_secret_access_key=s3_secret,
        s3_segment_bytes=_int_setting(env, "VIGPARENT_S3_SEGMENT_BYTES", 8 * 1024 * 1024),
        keystore_url=keystore_url,
        upload_lock_ttl_s=float(env.get("VIGPARENT_UPLOAD_LOCK_TTL_S", 15)),
        trusted_proxies=_int_setting(env, "TRUSTED_PROXIES", 0),
        mail_backend=mail_backend,
        mail_from=env.get("VIGPARENT_MAIL_FROM", "vigparent@localhost"),
        smtp_host=env.get("VIGPARENT_SMTP_HOST", "localhost"),
        smtp_port=_int_setting(env, "VIGPARENT_SMTP_PORT", 25),
        smtp_tls=smtp_tls,
        smtp_username=env.get("VIGPARENT_SMTP_USERNAME", ""),
        smtp_password=env.get("VIGPARENT_SMTP_PASSWORD", ""),
        **_notification_settings(env, paths.vapid_file),
    )

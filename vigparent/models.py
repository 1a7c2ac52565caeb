"""The VIG domain model (DESIGN.md §3) as typed SQLAlchemy 2 models.

Times are stored as naive UTC. AuditEvent and DeletionReceipt hold plain ids rather than
foreign keys on purpose: they must outlive the family's media and content.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from vigparent import clock
from vigparent.db import Base
from vigparent.i18n import N_


def utcnow() -> datetime:
    return clock.now()


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native ENUM type) so migrations stay simple on both backends.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Role(enum.StrEnum):
    PRACTITIONER = "practitioner"
    ADMIN = "admin"
    PARENT = "parent"
    # An AVIGuk supervisor: watches and comments on clips a practitioner shares, nothing else.
    SUPERVISOR = "supervisor"


class FamilyStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ConsentKind(enum.StrEnum):
    FILMING = "filming"
    STORAGE = "storage"
    KEEP_COPY = "keep_copy"
    # "My clips may be shown to the practitioner's supervisor" (supervision/service.py).
    SUPERVISION = "supervision"


class GoalStatus(enum.StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    RETIRED = "retired"


class FilmingPlace(enum.StrEnum):
    HOME = "home"
    CLINIC = "clinic"
    PARK = "park"
    OTHER = "other"


class RecordingStatus(enum.StrEnum):
    UPLOADING = "uploading"
    RECEIVED = "received"
    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"


class ClipStatus(enum.StrEnum):
    CUTTING = "cutting"
    READY = "ready"
    FAILED = "failed"


class Principle(enum.StrEnum):
    """The VIG principles of attuned interaction a clip can illustrate."""

    BEING_ATTENTIVE = "being_attentive"
    ENCOURAGING_INITIATIVES = "encouraging_initiatives"
    RECEIVING_INITIATIVES = "receiving_initiatives"
    DEVELOPING_ATTUNED_INTERACTIONS = "developing_attuned_interactions"
    GUIDING = "guiding"
    DEEPENING_DISCUSSION = "deepening_discussion"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def parent_label(self) -> str:
        """The principle in a parent's words, for the parent's own screens."""
        return _PRINCIPLE_FOR_PARENTS[self]


_PRINCIPLE_FOR_PARENTS = {
    Principle.BEING_ATTENTIVE: N_("Noticing your child"),
    Principle.ENCOURAGING_INITIATIVES: N_("Following your child's lead"),
    Principle.RECEIVING_INITIATIVES: N_("Answering your child"),
    Principle.DEVELOPING_ATTUNED_INTERACTIONS: N_("Taking turns together"),
    Principle.GUIDING: N_("Showing your child the way"),
    Principle.DEEPENING_DISCUSSION: N_("Talking it through"),
}


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    retention_days_after_close: Mapped[int] = mapped_column(Integer, default=30)
    parents_may_keep_copies: Mapped[bool] = mapped_column(Boolean, default=False)
    invitation_lifetime_days: Mapped[int] = mapped_column(Integer, default=14)
    family_quota_bytes: Mapped[int] = mapped_column(BigInteger, default=5 * 1024**3)
    # Staff must pass a second factor (passkey or authenticator app) to sign in.
    staff_second_factor_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # The consent wording parents are shown (consent.service.CONSENT_WORDINGS); NULL: the
    # newest this version of the app knows.
    consent_wording_version: Mapped[str | None] = mapped_column(String(20))
    # How texts, emails and push notifications are worded (notifications/wording.py):
    # "private" names neither VIG, nor the child, nor the service; "full" may name the service.
    message_wording: Mapped[str] = mapped_column(
        String(16), default="private", server_default="private"
    )
    # How a family reaches the service with a question (a phone number, its hours, an email
    # address), shown to parents on their receipts; empty until an admin sets it.
    family_contact: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(UserMixin, Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    # Practitioners and admins sign in with email + password; parents never need either.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    # use_alter breaks the family ↔ user foreign-key cycle when creating tables.
    family_id: Mapped[int | None] = mapped_column(
        ForeignKey("family.id", use_alter=True), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)

    organisation: Mapped[Organisation] = relationship()
    family: Mapped[Family | None] = relationship(foreign_keys=[family_id], back_populates="carers")

    def get_id(self) -> str:
        # Flask-Login keeps this in the signed cookie: the device's session secret, not the
        # user id, so ending a LoginSession signs exactly that device out.
        token: str = getattr(self, "session_token", "")
        return token

    @property
    def is_parent(self) -> bool:
        return self.role is Role.PARENT

    @property
    def is_staff(self) -> bool:
        """Signs in with email and password (and a second factor where required)."""
        return self.role in (Role.PRACTITIONER, Role.ADMIN, Role.SUPERVISOR)


class LoginSession(Base):
    """One signed-in device. Ending it signs that device out (a lost phone, a sign-out)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # Only a hash of the session secret is stored; the secret lives in the signed cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set while a staff sign-in waits for its second factor: until then the row signs nobody
    # in, and after this time it is dead.
    pending_until: Mapped[datetime | None] = mapped_column(DateTime)
    # How the second factor passed ("passkey", "app", "recovery code"); "" when none was asked.
    second_factor: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The open WebAuthn challenge (base64url), kept here rather than in the readable cookie,
    # and cleared when used so an answer to it cannot be played twice.
    webauthn_challenge: Mapped[str | None] = mapped_column(String(128))

    user: Mapped[User] = relationship()


class StaffLinkPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret


class StaffLink(Base):
    """An emailed, single-use, expiring link that lets a staff member set their password.

    Sent when an admin invites someone (who then has no password yet) or when someone asks to
    reset a forgotten one. Only a hash of the link's secret is stored.
    """

    __tablename__ = "staff_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[StaffLinkPurpose] = mapped_column(_enum(StaffLinkPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The admin who invited (a plain id: the link is history once used).
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Passkey(Base):
    """A staff member's WebAuthn credential: their main second factor."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # base64url of the authenticator's credential id (at most 1023 bytes by the spec).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuthenticatorApp(Base):
    """A staff member's TOTP secret (the fallback factor), encrypted under the app's key."""

    __tablename__ = "authenticator_app"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # NULL until the person has typed one right code: an unconfirmed app is not a factor.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last 30-second step whose code was accepted: a code is never taken twice.
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RecoveryCode(Base):
    """A single-use code for when the passkey and phone are lost. Only its hash is stored."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class Family(Base):
    __tablename__ = "family"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # A label the practitioner chooses ("Sam and Alex"); never an NHS number.
    label: Mapped[str] = mapped_column(String(120))
    status: Mapped[FamilyStatus] = mapped_column(_enum(FamilyStatus), default=FamilyStatus.INVITED)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    media_deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The language the family's pages, texts and emails speak (vigparent/i18n.py LANGUAGES):
    # set by the practitioner when inviting, changed by the parent from any page's footer.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")

    organisation: Mapped[Organisation] = relationship()
    practitioner: Mapped[User] = relationship(foreign_keys=[practitioner_id])
    carers: Mapped[list[User]] = relationship(
        foreign_keys=[User.family_id], back_populates="family"
    )
    invitations: WriteOnlyMapped[Invitation] = relationship(
        back_populates="family", cascade="all, delete-orphan", passive_deletes=True
    )
    consents: WriteOnlyMapped[ConsentRecord] = relationship(
        back_populates="family", cascade="all, delete-orphan", passive_deletes=True
    )


class Invitation(Base):
    """A single-use, expiring, revocable link that signs a carer in on their phone."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    carer_name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when re-inviting a carer who already joined (a lost phone): the link signs that
    # same carer in again instead of creating a second account for them.
    carer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    family: Mapped[Family] = relationship(back_populates="invitations")


class ConsentRecord(Base):
    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind))
    wording_version: Mapped[str] = mapped_column(String(20))
    # The language the parent read the wording in, and that translation's own version
    # (consent.service.translation_version): what they agreed to, word for word.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    translation_version: Mapped[str] = mapped_column(String(20), default="", server_default="")
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)

    family: Mapped[Family] = relationship(back_populates="consents")


class Goal(Base):
    __tablename__ = "goal"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    helping_question: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[GoalStatus] = mapped_column(_enum(GoalStatus), default=GoalStatus.PROPOSED)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    parent_agreed_at: Mapped[datetime | None] = mapped_column(DateTime)
    practitioner_agreed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GoalRevision(Base):
    """Every wording a goal has had, so agreed goals keep their history."""

    __tablename__ = "goal_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    helping_question: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # When both sides agreed this wording; an agreed goal's history shows which it was.
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Cycle(Base):
    """One round of film → clips → shared review."""

    __tablename__ = "cycle"
    __table_args__ = (UniqueConstraint("family_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    film_by: Mapped[date | None] = mapped_column(Date)
    place: Mapped[FilmingPlace] = mapped_column(_enum(FilmingPlace), default=FilmingPlace.HOME)
    activity: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    review_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Recording(Base):
    __tablename__ = "recording"
    # The client's own id makes upload creation idempotent: a retried POST finds this row.
    __table_args__ = (UniqueConstraint("family_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycle.id", ondelete="SET NULL"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    # tus upload id (public, random); the URL is /api/uploads/<upload_id>.
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    declared_size: Mapped[int] = mapped_column(BigInteger)
    received_size: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The recognised tus Upload-Metadata pairs as sent (client_id, filetype, recorded_at,
    # cycle_id), echoed on HEAD as tus requires; file names are dropped, never stored.
    upload_metadata: Mapped[str] = mapped_column(String(600), default="")
    sha256: Mapped[str | None] = mapped_column(String(64))
    container: Mapped[str | None] = mapped_column(String(16))
    duration_s: Mapped[float | None] = mapped_column(Float)
    # Of the transcode parents watch, for stepping a frame; read once when it is made.
    frame_rate: Mapped[float | None] = mapped_column(Float)
    status: Mapped[RecordingStatus] = mapped_column(
        _enum(RecordingStatus), default=RecordingStatus.UPLOADING
    )
    rejection_reason: Mapped[str | None] = mapped_column(String(300))
    # Names of blobs in storage (server-chosen, random). Never paths.
    original_name: Mapped[str] = mapped_column(String(80))
    transcode_name: Mapped[str | None] = mapped_column(String(80))
    poster_name: Mapped[str | None] = mapped_column(String(80))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)

    family: Mapped[Family] = relationship()
    clips: Mapped[list[Clip]] = relationship(
        back_populates="recording", order_by="Clip.position", passive_deletes=True
    )


class Clip(Base):
    __tablename__ = "clip"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recording.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    strength_note: Mapped[str] = mapped_column(Text, default="")
    principle: Mapped[Principle] = mapped_column(_enum(Principle))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[ClipStatus] = mapped_column(_enum(ClipStatus), default=ClipStatus.CUTTING)
    media_name: Mapped[str | None] = mapped_column(String(80))
    poster_name: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    recording: Mapped[Recording] = relationship(back_populates="clips")


class Reflection(Base):
    """The parent's own words after a review, about one clip or the review as a whole."""

    __tablename__ = "reflection"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[int | None] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycle.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ProgressRating(Base):
    __tablename__ = "progress_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SupervisionShare(Base):
    """Clips a practitioner shows a named supervisor for a limited time.

    Active while `ended_at` is NULL and `expires_at` is in the future (access.py decides).
    """

    __tablename__ = "supervision_share"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # What the practitioner would like to talk about; shown to the supervisor.
    question: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Why it ended early: "practitioner", "consent_withdrawn", "handover".
    end_reason: Mapped[str] = mapped_column(String(32), default="")

    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id])
    practitioner: Mapped[User] = relationship(foreign_keys=[practitioner_id])


class SupervisionShareClip(Base):
    """One clip in a share. Deleted with the clip (withdrawal, retention, one recording)."""

    __tablename__ = "supervision_share_clip"
    __table_args__ = (UniqueConstraint("share_id", "clip_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(
        ForeignKey("supervision_share.id", ondelete="CASCADE"), index=True
    )
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)


class SupervisionComment(Base):
    """A supervisor's words on one shared clip; deleted with the clip or the share."""

    __tablename__ = "supervision_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(
        ForeignKey("supervision_share.id", ondelete="CASCADE"), index=True
    )
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """Who did what, when — never content, never media, never tokens."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    family_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(300), default="")


class TranslationReview(Base):
    """An organisation admin marked one catalogue (one version of a language) as checked by a
    qualified translator. A newer catalogue needs a new review (languages/service.py)."""

    __tablename__ = "translation_review"
    __table_args__ = (UniqueConstraint("organisation_id", "language", "catalogue_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    catalogue_version: Mapped[str] = mapped_column(String(20))
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DeletionReceipt(Base):
    """What was deleted, in counts and bytes; it outlives the media it describes."""

    __tablename__ = "deletion_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(Integer, index=True)
    # Kept so an admin still finds the receipt of a family that was erased entirely.
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(32))
    recordings: Mapped[int] = mapped_column(Integer, default=0)
    clips: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    key_destroyed: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # NULL while the deletion is under way: an open receipt is the journal that
    # withdrawal.service.resume_unfinished_deletions() finishes after a crash.
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # Set when one recording (not the whole family) is being deleted; a plain id on purpose.
    recording_id: Mapped[int | None] = mapped_column(Integer)


class ClientError(Base):
    """A script error or upload failure a parent's phone reported: never content or names.

    Only the organisation is kept (so its admins see it), not the family or the person.
    """

    __tablename__ = "client_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    page: Mapped[str] = mapped_column(String(120), default="")
    browser: Mapped[str] = mapped_column(String(200), default="")
    app_version: Mapped[str] = mapped_column(String(40), default="")


class MessageChannel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"


class MessageKind(enum.StrEnum):
    INVITATION = "invitation"
    FILMING_REMINDER = "filming_reminder"
    CLIPS_SHARED = "clips_shared"
    VIDEO_ARRIVED = "video_arrived"


class MessageStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for its time (a reminder on the filming day)
    QUEUED = "queued"  # handed to the job queue
    RETRYING = "retrying"  # a temporary failure; the job tries again
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    LOGGED = "logged"  # the development backend only wrote a log line
    FAILED = "failed"
    CANCELLED = "cancelled"


class Message(Base):
    """One text, email or push notification: the outbox row its background job sends.

    Never holds the words of the message (they live in Notify's templates) nor media. The
    address is kept only until the message is final; an invitation's link only sealed, and
    only until the provider has it.
    """

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    channel: Mapped[MessageChannel] = mapped_column(_enum(MessageChannel))
    # The carer or practitioner it is for; NULL for an invitation to someone not yet joined.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), index=True
    )
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycle.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), default="")
    # What the practitioner sees of the address ("ending 0123"), kept after it is cleared.
    address_hint: Mapped[str] = mapped_column(String(60), default="")
    sealed_link: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus), default=MessageStatus.QUEUED, index=True
    )
    send_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str] = mapped_column(String(64), default="")
    # Plain words for the practitioner when it failed; never the provider's raw answer.
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CarerMessaging(Base):
    """Where a carer gets messages (the number or address their link was sent to) and
    whether they want filming reminders."""

    __tablename__ = "carer_messaging"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    phone_number: Mapped[str] = mapped_column(String(40), default="")
    email_address: Mapped[str] = mapped_column(String(320), default="")
    reminders_on: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PushSubscription(Base):
    """A phone's Web Push subscription, tied to the sign-in of that phone."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_session.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LiveReview(Base):
    """A shared review watched live: the practitioner leads, the family's phones follow.

    Holds the room's current state (which clip, where in it, playing or paused, and when the
    server took that command), so a phone that reconnects to any web process resyncs from it.
    At most one is open per family; withdrawal ends it at once.
    """

    __tablename__ = "live_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    # The review set shown (a cycle id, or "other"), as clips.service.find_set names it.
    set_key: Mapped[str] = mapped_column(String(20), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    active_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A plain id, not a foreign key: deleting one recording's clips must not end the review
    # (the clip is then simply no longer in the room's list).
    clip_id: Mapped[int | None] = mapped_column(Integer)
    media_time: Mapped[float] = mapped_column(Float, default=0.0)
    playing: Mapped[bool] = mapped_column(Boolean, default=False)
    # Server time of the last command, in milliseconds since the epoch (what phones compute with).
    command_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # What the practitioner is showing the family now: a typed note, and the clip's own note.
    note: Mapped[str] = mapped_column(Text, default="")
    show_strength: Mapped[bool] = mapped_column(Boolean, default=False)
    film_asked_at: Mapped[datetime | None] = mapped_column(DateTime)
    film_answer: Mapped[str] = mapped_column(String(20), default="")


class LivePresence(Base):
    """Who has a live review open now (one row per person; the newest connection wins)."""

    __tablename__ = "live_presence"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("live_review.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    connection: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LiveNotice(Base):
    """ "I noticed something here": a moment a carer marked in a clip during a live review."""

    __tablename__ = "live_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("live_review.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    at_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

"""`flask --app vigparent vig ...`: the operator's commands (DESIGN.md §10)."""

from __future__ import annotations

import secrets
import sys

import click
from flask import Flask, current_app
from sqlalchemy import select

from vigparent import audit, db, keyring, media_store, retention
from vigparent.assets import build_all
from vigparent.auth import mfa
from vigparent.auth import service as auth_service
from vigparent.config import Settings
from vigparent.families import service as family_service
from vigparent.invitations import service as invitation_service
from vigparent.models import Family, Organisation, Role, User
from vigparent.notifications import wording as message_wording
from vigparent.supervision import service as supervision_service

vig = click.Group("vig", help="vigparent operations.")

DEMO_ORGANISATION = "Demo health visiting team"
DEMO_EMAIL = "practitioner@example.org"
DEMO_FAMILY = "Sam and Alex"


def _organisation(name: str) -> Organisation:
    s = db.session()
    org = s.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name)
        s.add(org)
        s.flush()
    return org


def _staff(email: str, roles: tuple[Role, ...], word: str) -> User:
    user = db.session().scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.role not in roles:
        raise click.ClickException(f"No {word} with email {email}.")
    return user


def _practitioner(email: str) -> User:
    return _staff(email, (Role.PRACTITIONER, Role.ADMIN), "practitioner")


@vig.command("create-practitioner")
@click.argument("email")
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--name", default="", help="Name shown to families.")
@click.option("--organisation", default=DEMO_ORGANISATION, show_default=True)
@click.option("--admin", is_flag=True, help="Also manage the organisation.")
def create_practitioner(
    email: str, password: str, name: str, organisation: str, admin: bool
) -> None:
    """Create a practitioner account."""
    if db.session().scalar(select(User).where(User.email == email.strip().lower())):
        raise click.ClickException(f"{email} already has an account.")
    org = _organisation(organisation)
    try:
        user = auth_service.create_staff_user(
            org.id, email, password, name or email, Role.ADMIN if admin else Role.PRACTITIONER
        )
    except auth_service.WeakPassword as e:
        raise click.ClickException(str(e)) from None
    db.session().commit()
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")


@vig.command("create-supervisor")
@click.argument("email")
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--name", default="", help="Name shown to practitioners and families.")
@click.option("--organisation", default=DEMO_ORGANISATION, show_default=True)
def create_supervisor(email: str, password: str, name: str, organisation: str) -> None:
    """Create a VIG supervisor: watches and comments on clips shared with them, nothing else."""
    if db.session().scalar(select(User).where(User.email == email.strip().lower())):
        raise click.ClickException(f"{email} already has an account.")
    org = _organisation(organisation)
    try:
        user = supervision_service.create_supervisor(org.id, email, password, name or email)
    except auth_service.WeakPassword as e:
        raise click.ClickException(str(e)) from None
    audit.record("supervisor_created", organisation_id=org.id, detail=f"user={user.id}")
    db.session().commit()
    click.echo(f"Created supervisor {user.email} (id {user.id}).")


@vig.command("create-family")
@click.option("--practitioner", "email", required=True, help="The practitioner's email.")
@click.argument("label")
def create_family(email: str, label: str) -> None:
    """Create a family on a practitioner's caseload; prints its id."""
    family = family_service.create_family(_practitioner(email), label)
    db.session().commit()
    click.echo(family.id)


@vig.command("invite")
@click.argument("family_id", type=int)
@click.option("--carer", default="", help="Who the link is for (shown to the practitioner).")
def invite(family_id: int, carer: str) -> None:
    """Create an invitation link for a family; prints the URL."""
    family = db.session().get(Family, family_id)
    if family is None:
        raise click.ClickException(f"No family with id {family_id}.")
    _invitation, token = invitation_service.issue_invitation(family, family.practitioner, carer)
    db.session().commit()
    click.echo(invitation_service.invitation_url(token))


@vig.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email: str) -> None:
    """Clear a staff member's passkeys, app and recovery codes, and sign them out."""
    user = _staff(email, (Role.PRACTITIONER, Role.ADMIN, Role.SUPERVISOR), "member of staff")
    mfa.clear_factors(user)
    ended = auth_service.end_all_sessions(user)
    audit.record(
        "second_factor_reset", organisation_id=user.organisation_id, detail=f"staff {user.id} (cli)"
    )
    db.session().commit()
    click.echo(f"Cleared the second factor of {user.email}; signed out {ended} device(s).")


@vig.command("sweep")
def sweep() -> None:
    """Apply retention rules now; prints what was deleted."""
    click.echo(str(retention.sweep()))
    db.session().commit()


@vig.command("rotate-master-key")
@click.option("--yes", is_flag=True, help="Don't ask; the web app and worker are stopped.")
@click.option(
    "--resume-from-stdin",
    is_flag=True,
    help="Env-held key only: finish an interrupted rotation with the new key (base64) on stdin.",
)
def rotate_master_key(yes: bool, resume_from_stdin: bool) -> None:
    """Re-wrap every family's data key under a new master key (media is not touched)."""
    if not yes:
        click.confirm(
            "Stop the web app and the job worker first: they hold the old master key. Continue?",
            abort=True,
        )
    settings: Settings = current_app.extensions["vig_settings"]
    new_key = sys.stdin.read() if resume_from_stdin else None
    for line in keyring.rotate_master_key(media_store.keyring(), settings.master_key_file, new_key):
        click.echo(line)


@vig.command("assets")
def build_assets() -> None:
    """Build the fingerprinted asset bundles."""
    assert current_app.static_folder is not None
    count = build_all(current_app.extensions["vig_assets"], current_app.static_folder)
    click.echo(f"Built assets ({count} gzipped).")


@vig.command("demo")
def demo() -> None:
    """Seed a demo practitioner and family; print how to sign in and a parent link."""
    s = db.session()
    org = _organisation(DEMO_ORGANISATION)
    password = secrets.token_urlsafe(9)
    user = s.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        user = auth_service.create_staff_user(org.id, DEMO_EMAIL, password, "Jo Practitioner")
        s.flush()
    else:
        user.password_hash = auth_service.hash_password(password)
        # The printed login must work: a passkey or app set up in an earlier run may be gone.
        mfa.clear_factors(user)
    family = s.scalar(
        select(Family).where(Family.practitioner_id == user.id, Family.label == DEMO_FAMILY)
    )
    if family is None:
        family = family_service.create_family(user, DEMO_FAMILY)
        s.flush()
        family_service.seed_demo_plan(family, user)
    _invitation, token = invitation_service.issue_invitation(family, user, "Demo parent")
    s.commit()
    base = invitation_service.invitation_url(token).split("/join/")[0]
    click.echo("")
    click.echo("vigparent demo is ready.")
    click.echo(f"  Practitioner sign-in:  {base}/login")
    click.echo(f"    email:     {DEMO_EMAIL}")
    click.echo(f"    password:  {password}")
    click.echo("    second factor: optional in the demo team (Sign-in security, on the caseload)")
    click.echo("  Parent invitation link (open it on a phone-sized window, single use):")
    click.echo(f"    {invitation_service.invitation_url(token)}")
    click.echo("")


def init_app(app: Flask) -> None:
    app.cli.add_command(vig)


@vig.command("message-wording")
@click.argument("organisation")
@click.argument("wording", type=click.Choice(message_wording.WORDINGS))
def set_message_wording(organisation: str, wording: str) -> None:
    """Choose how texts, emails and push notifications are worded for an organisation.

    "private" (the default) names neither VIG, nor the child, nor the service; "full" may
    name the organisation and the practitioner. ORGANISATION is its name or id.
    """
    s = db.session()
    org = s.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None and organisation.isdigit():
        org = s.get(Organisation, int(organisation))
    if org is None:
        raise click.ClickException(f"No organisation called {organisation}.")
    org.message_wording = wording
    audit.record("message_wording_changed", organisation_id=org.id, detail=wording)
    s.commit()
    click.echo(f"{org.name}: messages now use the {wording} wording.")

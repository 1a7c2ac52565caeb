"""Forms for the second sign-in step, the staff member's factors, and the admin's page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length


class AppCodeForm(FlaskForm):
    code = StringField(
        "6-digit code from your authenticator app", validators=[DataRequired(), Length(max=20)]
    )


class RecoveryCodeForm(FlaskForm):
    code = StringField("Recovery code", validators=[DataRequired(), Length(max=40)])


class PasskeyForm(FlaskForm):
    # What navigator.credentials.create()/get() returned, as JSON (passkeys.js fills it in).
    credential = HiddenField(validators=[DataRequired(), Length(max=16_000)])
    name = StringField("Name for this passkey (optional)", validators=[Length(max=60)])


class RequirementForm(FlaskForm):
    required = BooleanField("Staff must use a second factor to sign in")

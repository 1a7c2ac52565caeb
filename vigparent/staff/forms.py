"""Forms for staff invitations, switching accounts off and on, and forgotten passwords."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import Length


class InviteStaffForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=120)])
    email = EmailField("Email address", validators=[Length(max=254)])
    role = SelectField(
        "Role",
        choices=[
            SelectChoice("practitioner", "Practitioner"),
            SelectChoice("admin", "Admin (runs the service)"),
        ],
        default="practitioner",
    )


class ChoosePasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[Length(max=200)])
    confirm = PasswordField("Type it again", validators=[Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", validators=[Length(max=254)])

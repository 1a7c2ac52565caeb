"""The organisation settings form. Numbers are read as text so a wrong one gets a plain
message from organisation.service, not a library's."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length


class OrganisationSettingsForm(FlaskForm):
    retention_days = StringField(
        "Days to keep videos after a case closes", validators=[Length(max=20)]
    )
    keep_copies = BooleanField("Families may keep a copy of their clips")
    invitation_days = StringField("Days an invitation link works", validators=[Length(max=20)])
    wording_version = SelectField("Consent wording parents see", choices=[], validate_choice=False)
    family_contact = StringField("How families can contact you", validators=[Length(max=1000)])

"""Forms on the practitioner's pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectChoice, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from vigparent.families.service import PLACE_NAMES


class NewFamilyForm(FlaskForm):
    label = StringField(
        "Family label",
        validators=[DataRequired("Give the family a short label."), Length(max=120)],
    )
    carer_name = StringField("First carer's name (optional)", validators=[Length(max=120)])


class InviteForm(FlaskForm):
    carer_name = StringField("Carer's name (optional)", validators=[Length(max=120)])


class PlanForm(FlaskForm):
    film_by = DateField("Film before", validators=[Optional()])
    place = RadioField(
        "Where",
        choices=[SelectChoice(place.value, name) for place, name in PLACE_NAMES.items()],
        default="home",
        validators=[DataRequired()],
    )
    activity = StringField("What to film", validators=[Length(max=200)])
    note = TextAreaField("Note for the family (optional)", validators=[Length(max=2000)])
    review_on = DateField("Review date (optional)", validators=[Optional()])
    review_time = TimeField("Review time", validators=[Optional()])

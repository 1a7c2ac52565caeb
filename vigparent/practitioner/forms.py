"""Forms on the practitioner's pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, Optional

from vigparent import i18n
from vigparent.families.service import PLACE_NAMES


def _language_field() -> SelectField:
    """The family's language: their pages, texts and emails, and the link they open."""
    return SelectField(
        "The family's language",
        choices=[
            SelectChoice(code, f"{lang.english_name} ({lang.name})" if code != "en" else lang.name)
            for code, lang in i18n.LANGUAGES.items()
        ],
        default=i18n.ENGLISH,
    )


class NewFamilyForm(FlaskForm):
    label = StringField(
        "Family label",
        validators=[DataRequired("Give the family a short label."), Length(max=120)],
    )
    carer_name = StringField("First carer's name (optional)", validators=[Length(max=120)])
    language = _language_field()


class InviteForm(FlaskForm):
    carer_name = StringField("Carer's name (optional)", validators=[Length(max=120)])
    language = _language_field()


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

"""The clip form: words for the parent, a VIG principle, the order and the in/out points."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange

from vigparent.clips.service import MAX_NOTE, MAX_TITLE, ClipDetails
from vigparent.models import Principle


class ClipForm(FlaskForm):
    title = StringField(
        "Title",
        validators=[InputRequired("Give the clip a short title."), Length(max=MAX_TITLE)],
    )
    strength_note = TextAreaField(
        "What the parent is doing that helps", validators=[Length(max=MAX_NOTE)]
    )
    principle = RadioField(
        "VIG principle",
        choices=[SelectChoice(p.value, p.label) for p in Principle],
        validators=[InputRequired("Choose the VIG principle this clip shows.")],
    )
    position = IntegerField(
        "Order in the review",
        validators=[
            InputRequired("Give the clip's place in the review (1 is first)."),
            NumberRange(1, 1000, "The order must be a number from 1 to 1000."),
        ],
    )
    start_s = FloatField(
        "Start (seconds)",
        validators=[
            InputRequired("Set the start of the clip (press I)."),
            NumberRange(min=0, message="The start cannot be before the video begins."),
        ],
    )
    end_s = FloatField(
        "End (seconds)",
        validators=[
            InputRequired("Set the end of the clip (press O)."),
            NumberRange(min=0, message="The end cannot be before the video begins."),
        ],
    )

    def details(self) -> ClipDetails:
        return ClipDetails(
            title=self.title.data or "",
            strength_note=self.strength_note.data or "",
            principle=Principle(self.principle.data),
            position=int(self.position.data or 0),
            start_s=float(self.start_s.data or 0.0),
            end_s=float(self.end_s.data or 0.0),
        )

    def first_error(self) -> str:
        for errors in self.errors.values():
            for error in errors:
                return str(error)
        return "Please check the form."

"""Forms for proposing, changing and agreeing a goal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from vigparent.goals.service import MAX_GOAL_LENGTH, MAX_QUESTION_LENGTH
from vigparent.i18n import N_


class GoalForm(FlaskForm):
    text = TextAreaField(
        N_("Goal: what would you like to be different?"),
        validators=[InputRequired(), Length(max=MAX_GOAL_LENGTH)],
    )
    helping_question = TextAreaField(
        N_("Helping question (optional)"), validators=[Length(max=MAX_QUESTION_LENGTH)]
    )
    # The wording the person was looking at, so a change made meanwhile is not overwritten.
    revision_id = IntegerField(validators=[Optional()], widget=HiddenInput())


class AgreeForm(FlaskForm):
    revision_id = IntegerField(validators=[InputRequired()], widget=HiddenInput())

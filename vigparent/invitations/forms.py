"""The consent form a parent sees after opening their invitation link."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length

from vigparent.i18n import N_
from vigparent.models import ConsentKind


class ConsentForm(FlaskForm):
    name = StringField(N_("Your first name (optional)"), validators=[Length(max=120)])
    filming = BooleanField()
    storage = BooleanField()
    keep_copy = BooleanField()
    # The language the form was shown in: the one the carer read the consent wording in.
    read_in = HiddenField()

    def granted(self) -> set[ConsentKind]:
        """The kinds the parent ticked (supervision is asked later, on the privacy page)."""
        return {
            kind for kind in ConsentKind if (box := getattr(self, kind.value, None)) and box.data
        }

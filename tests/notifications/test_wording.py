"""What a message may carry, per wording; how an organisation chooses its wording."""

from __future__ import annotations

from flask import Flask

from tests.conftest import Factory
from tests.notifications.conftest import TEMPLATE_IDS
from tests.notifications.fake_notify import FakeNotify
from vigparent import db
from vigparent.models import MessageChannel, MessageKind, Organisation
from vigparent.notifications import delivery, wording

FIELDS = {
    "link": "https://vig.example/home/",
    "organisation": "North Team",
    "practitioner": "Jo Bloggs",
    "child": "Barnabus",
    "family": "Zebedee Quokka-Fairweather",
}


def test_each_wording_lets_through_only_its_fields():
    assert wording.personalisation(wording.PRIVATE, FIELDS) == {"link": FIELDS["link"]}
    assert wording.personalisation(wording.FULL, FIELDS) == {
        "link": FIELDS["link"],
        "organisation": "North Team",
        "practitioner": "Jo Bloggs",
    }
    assert wording.personalisation("anything else", FIELDS) == {"link": FIELDS["link"]}


def test_push_words_name_nobody_by_default():
    for kind in MessageKind:
        title, body = wording.push_text(kind, wording.PRIVATE, FIELDS)
        assert (title, body) == ("New message", "You have a new message from your health visitor.")
    title, body = wording.push_text(MessageKind.CLIPS_SHARED, wording.FULL, FIELDS)
    assert body == "Jo Bloggs has shared your clips."


def test_suggested_templates_use_only_allowed_placeholders():
    for name, text in wording.SUGGESTED_TEMPLATES.items():
        allowed = wording.ALLOWED_FIELDS[
            wording.FULL if name.endswith("_full") else wording.PRIVATE
        ]
        used = {part.split("))")[0] for part in text.split("((")[1:]}
        assert used <= allowed, name


def test_full_wording_falls_back_to_the_private_template(app_ctx: Flask, notify: FakeNotify):
    # There is no "video_arrived_email_full" template: the private one is used.
    assert "video_arrived_email_full" not in TEMPLATE_IDS
    assert (
        delivery.template_id(MessageKind.VIDEO_ARRIVED, MessageChannel.EMAIL, wording.FULL)
        == TEMPLATE_IDS["video_arrived_email"]
    )
    assert (
        delivery.template_id(MessageKind.CLIPS_SHARED, MessageChannel.SMS, wording.FULL)
        == TEMPLATE_IDS["clips_shared_sms_full"]
    )


def test_an_organisation_chooses_its_wording_from_the_command_line(app: Flask, make: Factory):
    org = make.organisation("North Team")
    assert org.message_wording == "private"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vig", "message-wording", "North Team", "full"])
    assert result.exit_code == 0, result.output
    assert "North Team: messages now use the full wording." in result.output
    db.session().expire_all()
    assert db.session().get(Organisation, org.id).message_wording == "full"  # type: ignore[union-attr]
    assert runner.invoke(args=["vig", "message-wording", "North Team", "chatty"]).exit_code != 0
    missing = runner.invoke(args=["vig", "message-wording", "Nobody", "full"])
    assert missing.exit_code != 0 and "No organisation called Nobody." in missing.output

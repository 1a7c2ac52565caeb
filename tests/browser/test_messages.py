"""On phones: the practitioner sends an invitation by text through (a local) GOV.UK Notify
and sees what became of it; the parent who joined from that text turns reminders off and on.

Screens are saved under test-artifacts/messages-*.png for a person to look at.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, SW_READY, new_context, screenshot
from tests.browser.test_invitations import ConsoleWatch, _fits, _path
from tests.capture.phone import sign_in_parent
from tests.conftest import PASSWORD, Factory
from tests.notifications import fake_notify
from tests.notifications.conftest import CARER_NAME, FAMILY_LABEL, assert_private, notify_for
from vigparent.notifications import backends, delivery, reach
from vigparent.notifications.push import PushSender


def test_practitioner_texts_the_link_sees_delivery_and_parent_turns_reminders_off(
    browser, live_server, app, make: Factory
):
    with notify_for(app) as notify:
        _journey(browser, live_server, app, make, notify)


def _journey(browser, live_server, app, make: Factory, notify) -> None:  # type: ignore[no-untyped-def]
    make.practitioner("texts@example.org")
    staff_ctx = new_context(browser, live_server)
    staff = staff_ctx.new_page()
    staff_console = ConsoleWatch(staff)
    staff.goto("/login")
    staff.get_by_label("Email").fill("texts@example.org")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_label("Family label").fill(FAMILY_LABEL)
    staff.get_by_label("First carer's name (optional)").fill(CARER_NAME)
    staff.get_by_role("button", name="Add family and make a link").click()
    expect(staff.get_by_role("heading", name="Or we send it for you")).to_be_visible()
    _fits(staff)
    screenshot(staff, "messages-01-share-panel-send-for-me")

    # A typo is caught before anything is sent, and the same link is offered again.
    staff.get_by_label("Mobile phone number").fill("07700 9001")
    staff.get_by_role("button", name="Send by text").click()
    expect(staff.get_by_role("alert")).to_contain_text("Enter a mobile phone number")
    expect(staff.locator("#send-sms-error")).to_be_visible()
    assert notify.sent == []
    _fits(staff)
    screenshot(staff, "messages-02-wrong-number")
    staff.locator(".send-for-me").screenshot(path=str(ARTIFACTS / "messages-02-send-card.png"))

    staff.get_by_label("Mobile phone number").fill("07700 900123")
    staff.get_by_role("button", name="Send by text").click()
    expect(staff.get_by_text("Sending the link by text to number ending 0123")).to_be_visible()
    row = staff.locator("#messages li").first
    expect(row).to_contain_text("Invitation link by text to number ending 0123")
    expect(row.locator(".message-status")).to_have_text("sent, waiting for delivery")
    assert [s.body["phone_number"] for s in notify.sent] == ["07700900123"]
    assert_private(str(notify.sent[0].body))
    _fits(staff)
    screenshot(staff, "messages-03-sent")
    staff.locator("#messages").screenshot(path=str(ARTIFACTS / "messages-03-card.png"))

    # Notify reports delivery; the periodic job records it; the practitioner reloads.
    notify.set_status("delivered")
    with app.app_context():
        assert delivery.refresh_delivery() == 1
    staff.reload()
    expect(staff.locator("#messages li").first.locator(".message-status")).to_have_text("delivered")
    screenshot(staff, "messages-04-delivered")

    # A number Notify turns down: the reason, in plain words, on the family page.
    notify.errors.append(fake_notify.BAD_PHONE)
    staff.get_by_label("Carer's name (optional)").fill("Second carer")
    staff.get_by_role("button", name="Make a link").click()
    staff.get_by_label("Mobile phone number").fill("07700 900456")
    staff.get_by_role("button", name="Send by text").click()
    failed = staff.locator("#messages li").first
    expect(failed.locator(".message-status")).to_have_text("not delivered")
    expect(failed.locator(".message-error")).to_have_text(backends.BAD_PHONE)
    _fits(staff)
    screenshot(staff, "messages-05-notify-refused-number")
    staff.locator("#messages").screenshot(path=str(ARTIFACTS / "messages-05-card.png"))
    staff_console.assert_clean()
    staff_ctx.close()

    # --- the parent taps the link in their text ---------------------------------------------
    link = notify.sent[0].body["personalisation"]["link"]
    parent_ctx = new_context(browser, live_server)
    parent = parent_ctx.new_page()
    parent_console = ConsoleWatch(parent)
    parent.goto(_path(link) + "/consent")
    parent.get_by_label("I agree to film short videos").check()
    parent.get_by_label("I agree that my videos").check()
    parent.get_by_role("button", name="Yes, I agree. Join now").click()
    card = parent.locator("#messages")
    expect(card).to_contain_text("Filming-day reminders are on.")
    expect(card).to_contain_text("We send them by text message.")
    card.scroll_into_view_if_needed()
    _fits(parent)
    screenshot(parent, "messages-06-parent-reminders-on")
    card.screenshot(path=str(ARTIFACTS / "messages-06-card.png"))

    parent.get_by_role("button", name="Turn reminders off").click()
    expect(
        parent.get_by_text("Filming-day reminders are off. We won't send you any.")
    ).to_be_visible()
    expect(card).to_contain_text("Filming-day reminders are off.")
    expect(parent.get_by_role("button", name="Turn reminders on")).to_be_visible()
    _fits(parent)
    screenshot(parent, "messages-07-parent-reminders-off")
    card.screenshot(path=str(ARTIFACTS / "messages-07-card.png"))

    parent.get_by_role("button", name="Turn reminders on").click()
    expect(card).to_contain_text("Filming-day reminders are on.")
    parent_console.assert_clean()
    parent_ctx.close()


_NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.ready;
  const shown = await reg.getNotifications();
  return shown.map((n) => ({title: n.title, body: n.body, url: n.data.url}));
}"""


def _shown_when(phone, check) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The phone's shown notifications, polled until `check` holds (at most ~10 s)."""
    shown: list[dict[str, str]] = []
    for _ in range(100):
        shown = phone.evaluate(_NOTIFICATIONS)
        if check(shown):
            return shown
        phone.wait_for_timeout(100)
    raise AssertionError(f"the phone shows {shown}")


def test_the_service_worker_shows_a_push_in_plain_words_and_opens_only_this_app(
    phone, live_server, app, make: Factory
):
    """A push delivered to the phone's service worker (through Chromium's DevTools protocol,
    as a push service would deliver it) becomes a notification with the server's words and a
    link into this app only; anything unreadable shows the plain wording."""
    family = make.family(label=FAMILY_LABEL)
    sign_in_parent(app, phone, make.parent_of(family), live_server.url)
    phone.context.grant_permissions(["notifications"])
    phone.goto("/home/")
    phone.evaluate(SW_READY)
    cdp = phone.context.new_cdp_session(phone)
    registrations: list[dict[str, str]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
    deadline = 50
    while not registrations and deadline:
        phone.wait_for_timeout(100)  # CDP events arrive on Playwright's loop
        deadline -= 1
    [registration] = [r for r in registrations if not r.get("isDeleted")]

    def deliver(data: str) -> None:
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server.url,
                "registrationId": registration["registrationId"],
                "data": data,
            },
        )

    deliver(
        json.dumps(
            {
                "title": "New message",
                "body": "You have a new message from your health visitor.",
                "url": f"{live_server.url}/review/",
            }
        )
    )
    shown = _shown_when(phone, lambda shown: len(shown) == 1)
    assert shown == [
        {
            "title": "New message",
            "body": "You have a new message from your health visitor.",
            "url": "/review/",
        }
    ]
    # A link elsewhere, or a payload that is not ours, never leads out of the app.
    deliver(json.dumps({"title": "New message", "body": "x", "url": "https://evil.example/"}))
    shown = _shown_when(phone, lambda shown: [n["body"] for n in shown] == ["x"])
    assert shown[0]["url"] == "/"
    deliver("not json")
    shown = _shown_when(phone, lambda shown: [n["body"] for n in shown] != ["x"])
    assert shown == [
        {
            "title": "New message",
            "body": "You have a new message from your health visitor.",
            "url": "/",
        }
    ]
    cdp.detach()


def test_a_phone_that_can_get_notifications_is_offered_them(phone, live_server, app, make):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    app.extensions["vig_push"] = PushSender(key.decode(), "mailto:vig-test@example.org")
    try:
        family = make.family(label=FAMILY_LABEL)
        sign_in_parent(app, phone, make.parent_of(family), live_server.url)
        phone.goto("/home/")
        box = phone.locator("[data-push]")
        expect(box.get_by_role("button", name="Turn on notifications")).to_be_visible()
        expect(box.get_by_role("button", name="Turn off notifications")).to_be_hidden()
        _fits(phone)
        phone.locator("#messages").screenshot(path=str(ARTIFACTS / "messages-08-push-offer.png"))
    finally:
        reach.init_app(app)

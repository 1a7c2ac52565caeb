/* Notifications on this phone (Web Push): turn on, turn off, and keep the phone and the
 * server in step. If the server no longer knows this phone's subscription (the phone was
 * signed out, or the family withdrew), the phone unsubscribes too. */
(function () {
  "use strict";
  const vig = window.vig || {};
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  const box = document.querySelector("[data-push]");
  if (!box || !vig.fetchJSON) return;
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  const on = box.querySelector("[data-push-on]");
  const off = box.querySelector("[data-push-off]");
  const status = box.querySelector("[data-push-status]");
  const key = box.getAttribute("data-push-key");

  function keyBytes(b64url) {
    const b64 = (b64url + "===".slice((b64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  function post(url, body) {
    return vig.fetchJSON(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  function show(subscribed, words) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    status.textContent = words || "";
  }

  async function current() {
    const reg = await navigator.serviceWorker.ready;
    return reg.pushManager.getSubscription();
  }

  async function turnOn() {
    on.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        show(false, t("Your phone said no. You can turn them on in your phone's Settings."));
        return;
      }
      const reg = await navigator.serviceWorker.ready;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      const answer = await post(box.getAttribute("data-push-subscribe"), sub.toJSON());
      if (!answer.ok) {
        await sub.unsubscribe();
        show(false, t("That did not work. Please try again later."));
        return;
      }
      show(true, t("Notifications are on for this phone."));
    } catch {
      show(false, t("This phone can't get notifications from here. We will send texts instead, if we have your number."));
    } finally {
      on.disabled = false;
    }
  }

  async function turnOff() {
    off.disabled = true;
    try {
      const sub = await current();
      if (sub) {
        await post(box.getAttribute("data-push-forget"), { endpoint: sub.endpoint });
        await sub.unsubscribe();
      }
      show(false, t("Notifications are off for this phone."));
    } catch {
      show(false, "");
    } finally {
      off.disabled = false;
    }
  }

  async function sync() {
    try {
      const sub = await current();
      if (!sub) { show(false); return; }
      const answer = await post(box.getAttribute("data-push-check"), { endpoint: sub.endpoint });
      if (answer.status === 401 || (answer.ok && answer.body && !answer.body.subscribed)) {
        await sub.unsubscribe();
        show(false);
        return;
      }
      show(Boolean(answer.ok));
    } catch { show(false); }
  }

  on.addEventListener("click", turnOn);
  off.addEventListener("click", turnOff);
  box.hidden = false;
  sync();
})();

// @ts-check
/* Withdrawal on the phone (DESIGN.md §7), loaded on every parent page.
 *
 * - The one-tap "stop and delete" form: empties this phone at once (IndexedDB recordings and
 *   upload records, caches), then tells the server. With no signal the request is queued in
 *   localStorage and sent from whatever page is open when the phone is back online; the parent
 *   is told so. The local copies are gone either way, at once.
 * - The receipt page (data-wipe-local): empties the phone again, for a phone that was offline
 *   or had no script when someone withdrew (perhaps on another phone).
 * - After deleting one video on the server (data-forget-local), forgets this phone's copy of
 *   it, so the offline queue cannot send it again.
 *
 * The phone's store is the capture feature's: vig.localRecordings.wipeAll() (vig-store.js).
 *
 * @requires js/common.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  const PENDING_KEY = "vig.withdrawal.pending";
  const WIPED_KEY = "vig.withdrawal.wiped"; // how many phone videos went, for the receipt
  const LOCAL_DB = "vig-local"; // vig-store.js's database
  const WORDS = {
    deleting: t("Deleting your videos…"),
    queued: t(
      "You asked to stop. The videos on this phone are deleted. You are offline, so we will " +
      "delete the videos we hold as soon as this phone has signal again. You don't need to do " +
      "anything else. Opening this app again when you have signal helps."),
    sending: t("You asked to stop. Sending your request now…"),
    refused:
      t("The videos on this phone are deleted, but we could not send your request to stop. ") +
      t("Please tell your practitioner that you want to stop."),
    localGone: (n) => (n === 1
      ? t("We also deleted 1 video that was still waiting on this phone.")
      : t("We also deleted %(count)s videos that were still waiting on this phone.", { count: n })),
  };

  function readPending() {
    try {
      return JSON.parse(localStorage.getItem(PENDING_KEY) || "null");
    } catch {
      return null;
    }
  }

  function savePending(url) {
    try {
      localStorage.setItem(PENDING_KEY, JSON.stringify({ url: url, at: Date.now() }));
      return true;
    } catch {
      return false; // private mode with no storage: the parent is still told to retry
    }
  }

  function clearPending() {
    try { localStorage.removeItem(PENDING_KEY); } catch { /* nothing stored */ }
  }

  function rememberWiped(n) {
    if (!n) return;
    try {
      const before = Number(localStorage.getItem(WIPED_KEY)) || 0;
      localStorage.setItem(WIPED_KEY, String(before + n));
    } catch { /* the receipt then speaks generally */ }
  }

  function takeWiped() {
    try {
      const n = Number(localStorage.getItem(WIPED_KEY)) || 0;
      localStorage.removeItem(WIPED_KEY);
      return n;
    } catch {
      return 0;
    }
  }

  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms))]);
  }

  /* Empty the phone: recordings, chunks, upload URLs, caches. Never throws. Resolves to the
   * number of recordings that were on the phone (as far as we can tell). */
  async function wipeLocal() {
    let recordings = 0;
    if (vig.uploader && vig.uploader.stopAll) {
      try { vig.uploader.stopAll(); } catch { /* nothing running */ }
    }
    if (vig.localRecordings && vig.localRecordings.wipeAll) {
      try {
        const counts = await vig.localRecordings.wipeAll();
        recordings = (counts && counts.recordings) || 0;
      } catch (e) { vig.reportError("storage_failed", e); /* then delete the whole database */ }
    }
    // Whether or not the store above ran (it needs the idb helper), drop the database itself.
    if (window.indexedDB) {
      await withTimeout(new Promise((resolve) => {
        try {
          const req = indexedDB.deleteDatabase(LOCAL_DB);
          req.onsuccess = req.onerror = () => resolve();
        } catch { resolve(); }
      }), 3000);
    }
    // No more notifications on this phone: the server forgot its subscription already.
    if ("serviceWorker" in navigator && "PushManager" in window) {
      try {
        const reg = await withTimeout(navigator.serviceWorker.getRegistration(), 3000);
        const sub = reg && await reg.pushManager.getSubscription();
        if (sub) await sub.unsubscribe();
      } catch { /* not subscribed */ }
    }
    if (window.caches) {
      try {
        const names = await caches.keys();
        await Promise.all(names.map((name) => caches.delete(name)));
      } catch { /* no caches */ }
    }
    try {
      // tus-js-client's resume records, in case any page ever stored them.
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const key = localStorage.key(i);
        if (key && key.indexOf("tus::") === 0) localStorage.removeItem(key);
      }
    } catch { /* no storage */ }
    return recordings;
  }

  /* POST the withdrawal. Resolves to the server's JSON; rejects with .offline or .status. */
  async function send(url) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": vig.csrfToken ? vig.csrfToken() : "", Accept: "application/json" },
      });
    } catch {
      throw Object.assign(new Error("offline"), { offline: true });
    }
    if (!response.ok) throw Object.assign(new Error("refused"), { status: response.status });
    return response.json();
  }

  let sending = false;
  async function sendPending(onStatus) {
    const pending = readPending();
    if (!pending || sending) return;
    if (navigator.onLine === false) { onStatus(WORDS.queued); return; }
    sending = true;
    onStatus(WORDS.sending);
    try {
      const body = await send(pending.url);
      clearPending();
      window.location.assign(body.receipt_url);
    } catch (e) {
      if (e.offline || e.status >= 500 || e.status === 400 || e.status === 429) {
        onStatus(WORDS.queued); // tried too early, or a stale token: try again later
      } else {
        // Signed out, or the account is gone: we cannot act for them any more.
        clearPending();
        onStatus(WORDS.refused);
      }
    } finally {
      sending = false;
    }
  }

  function banner() {
    let el = document.querySelector("[data-withdraw-banner]");
    if (!el) {
      el = document.createElement("p");
      el.className = "notice notice-info withdraw-banner";
      el.setAttribute("role", "status");
      el.setAttribute("data-withdraw-banner", "");
      const main = document.querySelector("main") || document.body;
      main.insertBefore(el, main.firstChild);
    }
    return (text) => { el.textContent = text; };
  }

  function setupForm(form) {
    const button = form.querySelector("button[type=submit]");
    const status = form.querySelector("[data-withdraw-status]");
    const say = (text) => { if (status) status.textContent = text; };
    let busy = false;

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return; // a double tap does nothing more
      busy = true;
      if (button) { button.disabled = true; button.setAttribute("aria-disabled", "true"); }
      say(WORDS.deleting);
      const url = form.getAttribute("action");
      // Queue first, so that a page closed a moment later still sends it next time.
      savePending(url);
      rememberWiped(await wipeLocal());
      await sendPending(say);
    });

    if (readPending()) {
      if (button) { button.disabled = true; button.setAttribute("aria-disabled", "true"); }
      say(WORDS.queued);
    }
  }

  async function forgetLocal(clientId) {
    if (!clientId || !vig.store) return;
    try {
      const all = await vig.store.all();
      for (const rec of all) {
        if (rec.id === clientId || rec.clientId === clientId) {
          if (vig.uploader && vig.uploader.stop) vig.uploader.stop(rec.id);
          await vig.store.remove(rec.id);
        }
      }
    } catch { /* nothing stored here */ }
  }

  async function onReceipt(el) {
    clearPending(); // the server has it: nothing left to send
    const wiped = takeWiped() + (await wipeLocal());
    const note = el.querySelector("[data-local-wipe-result]");
    if (note && wiped > 0) note.textContent = WORDS.localGone(wiped);
  }

  function init() {
    const receipt = document.querySelector("[data-wipe-local]");
    if (receipt) { onReceipt(receipt); return; }

    document.querySelectorAll("[data-withdraw-form]").forEach(setupForm);

    const forget = document.querySelector("[data-forget-local]");
    if (forget && forget.getAttribute("data-forget-local")) {
      forgetLocal(forget.getAttribute("data-forget-local"));
    }

    const formStatus = document.querySelector("[data-withdraw-form] [data-withdraw-status]");
    let say = null;
    const sayer = () => {
      if (!say) say = formStatus ? (t) => { formStatus.textContent = t; } : banner();
      return say;
    };
    // Whenever the signal comes back, send a withdrawal that is waiting (tapped offline).
    window.addEventListener("online", () => { if (readPending()) sendPending(sayer()); });
    if (readPending()) {
      // Tapped while offline, on this or an earlier page: keep the phone empty, and send.
      wipeLocal().then((n) => { rememberWiped(n); return sendPending(sayer()); });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

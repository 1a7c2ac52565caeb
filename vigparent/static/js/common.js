// @ts-check
/* Shared helpers for every page (base.html loads this bundle first): the CSRF token for fetch,
 * and reporting errors the page would otherwise swallow. */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});

  vig.csrfToken = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  /* The page's words in the family's language: the server puts a table from the same
   * catalogues as the pages into <script id="vig-words"> (i18n.script_words). English pages
   * carry none, so the English given here is the answer. `%(name)s` in the words is filled
   * from `vars`, as in the templates (a translation may move it). */
  /** @type {Record<string, string> | null} */
  let words = null;
  vig.t = function (english, vars) {
    if (words === null) {
      const island = document.getElementById("vig-words");
      try { words = island ? JSON.parse(island.textContent || "{}") : {}; } catch { words = {}; }
    }
    const table = /** @type {Record<string, string>} */ (words);
    const said = Object.prototype.hasOwnProperty.call(table, english) ? table[english] : english;
    if (!vars) return said;
    return said.replace(/%\((\w+)\)s/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  };

  vig.fetchJSON = async function (url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ "X-CSRFToken": vig.csrfToken(), Accept: "application/json" }, opts.headers);
    const response = await fetch(url, opts);
    let body;
    try { body = await response.json(); } catch { body = null; }
    return { ok: response.ok, status: response.status, body: body };
  };

  /* Tell the team about an error the page would otherwise swallow (parents' pages only: the
   * meta tag is only there). Sends the error's name, message and first stack frame, the page
   * path and the app version; the server scrubs it again. Never what the parent typed or
   * filmed. At most a few a page; returns null so it can stand in for `.catch(() => null)`.
   * With no signal (when uploads fail most) a report waits on the phone, the newest few only,
   * and is sent when the signal is back, from whatever page is open then. */
  let reportsLeft = 5;
  const WAITING_KEY = "vig-error-reports";
  const WAITING_MAX = 10;

  function reportUrl() {
    const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="vig-error-report"]'));
    return meta ? meta.content : "";
  }

  /** @returns {object[]} */
  function waitingReports() {
    try {
      const list = JSON.parse(localStorage.getItem(WAITING_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch { return []; }
  }

  function keepWaiting(list) {
    try {
      if (list.length) localStorage.setItem(WAITING_KEY, JSON.stringify(list.slice(-WAITING_MAX)));
      else localStorage.removeItem(WAITING_KEY);
    } catch { /* private mode or full: the report is lost, the page is not */ }
  }

  /* Send one report; resolves false only when it did not reach the server. */
  function sendReport(url, report) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": vig.csrfToken() },
      body: JSON.stringify(report),
    }).then(() => true, () => false);
  }

  function sendWaiting() {
    const url = reportUrl();
    const list = waitingReports();
    if (!url || !list.length || navigator.onLine === false) return;
    keepWaiting([]);
    const sendable = list.slice(0, Math.max(reportsLeft, 0));
    reportsLeft -= sendable.length;
    const notSent = list.slice(sendable.length);
    sendable.reduce((chain, report) => chain.then(async () => {
      if (!(await sendReport(url, report))) notSent.push(report);
    }), Promise.resolve()).then(() => { if (notSent.length) keepWaiting(waitingReports().concat(notSent)); });
  }

  vig.forgetWaitingReports = function () { keepWaiting([]); };

  vig.reportError = function (kind, error) {
    try {
      const url = reportUrl();
      if (!url) return null;
      const err = error || {};
      const stack = String(err.stack || "").split("\n").find((l) => /https?:|\.js/.test(l)) || "";
      const message = (err.name ? err.name + ": " : "") + String(err.message || error || "");
      const meta = /** @type {HTMLMetaElement} */ (document.querySelector('meta[name="vig-error-report"]'));
      const report = {
        kind: kind, message: message.slice(0, 300), source: stack.trim().slice(0, 200),
        page: location.pathname.slice(0, 120), app_version: meta.dataset.version || "",
      };
      if (navigator.onLine === false) {
        keepWaiting(waitingReports().concat([report]));
        return null;
      }
      if (reportsLeft <= 0) return null;
      reportsLeft -= 1;
      sendReport(url, report).then((sent) => {
        if (!sent) keepWaiting(waitingReports().concat([report]));
      });
    } catch { /* reporting must never break the page */ }
    return null;
  };
  window.addEventListener("online", sendWaiting);
  document.addEventListener("DOMContentLoaded", sendWaiting);
  window.addEventListener("error", (event) => vig.reportError("script_error", event.error || {
    message: event.message, stack: event.filename + ":" + event.lineno + ":" + event.colno }));
  window.addEventListener("unhandledrejection", (event) => {
    vig.reportError("unhandled_rejection", event.reason);
  });

  // GOV.UK error pattern: a screen reader hears the error summary first.
  document.addEventListener("DOMContentLoaded", () => {
    const summary = /** @type {HTMLElement | null} */ (document.querySelector(".error-summary"));
    if (summary) summary.focus();
  });

})();

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
   * filmed. At most a few a page; returns null so it can stand in for `.catch(() => null)`. */
  let reportsLeft = 5;
  vig.reportError = function (kind, error) {
    try {
      const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="vig-error-report"]'));
      if (!meta || reportsLeft <= 0 || navigator.onLine === false) return null;
      reportsLeft -= 1;
      const err = error || {};
      const stack = String(err.stack || "").split("\n").find((l) => /https?:|\.js/.test(l)) || "";
      const message = (err.name ? err.name + ": " : "") + String(err.message || error || "");
      fetch(meta.content, {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRFToken": vig.csrfToken() },
        body: JSON.stringify({
          kind: kind, message: message.slice(0, 300), source: stack.trim().slice(0, 200),
          page: location.pathname.slice(0, 120), app_version: meta.dataset.version || "",
        }),
      }).catch(() => {});
    } catch { /* reporting must never break the page */ }
    return null;
  };
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

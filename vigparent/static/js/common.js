/* Shared helpers for every page: the CSRF token for fetch, and service worker registration. */
(function () {
  "use strict";
  const vig = (window.vig = window.vig || {});

  vig.csrfToken = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  vig.fetchJSON = async function (url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ "X-CSRFToken": vig.csrfToken(), Accept: "application/json" }, opts.headers);
    const response = await fetch(url, opts);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { ok: response.ok, status: response.status, body: body };
  };

  // GOV.UK error pattern: a screen reader hears the error summary first.
  document.addEventListener("DOMContentLoaded", () => {
    const summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
  });

})();

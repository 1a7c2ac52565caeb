// @ts-check
/* Home: show "Your practitioner is ready to watch your clips with you" as soon as a live
 * review opens, without a reload. The parent is usually on a call: they come back to this app
 * when told, so it checks then (the page shown again, the signal back) and every 20 seconds
 * while the page is on screen.
 *
 * @requires js/common.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig);
  const card = /** @type {HTMLElement | null} */ (document.querySelector("[data-live-invite]"));
  if (!card || !vig || !vig.fetchJSON) return;
  const url = card.dataset.liveInvite || "";
  const EVERY_MS = 20000;

  async function check() {
    if (document.visibilityState !== "visible" || navigator.onLine === false) return;
    try {
      const answer = await vig.fetchJSON(url);
      if (answer.ok && answer.body) card.hidden = !answer.body.open;
    } catch { /* no signal: keep what is shown */ }
  }

  document.addEventListener("visibilitychange", check);
  window.addEventListener("online", check);
  window.addEventListener("pageshow", (event) => { if (event.persisted) check(); });
  setInterval(check, EVERY_MS);
  check(); // the page may have come from the phone's offline copy
})();

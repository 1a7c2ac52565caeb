// @ts-check
/* Registers the service worker (parent pages only: this bundle is only on parent pages) and
 * decides when a new version may take over.
 *
 * A new worker waits (sw.js never calls skipWaiting by itself). This page lets it take over
 * as soon as it is not filming: switching workers never reloads a page, and a page that is
 * already open keeps the scripts it has; the next page it opens comes from the new version.
 * If it is filming, the hand-over happens when filming stops (recorder.js calls
 * vig.sw.activateWaiting()).
 *
 * @requires js/common.js js/vig-store.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  let registration = null;

  function activateWaiting() {
    if (!registration || !registration.waiting || !navigator.serviceWorker.controller) return;
    if (vig.recorderBusy && vig.recorderBusy()) return;
    registration.waiting.postMessage({ type: "SKIP_WAITING" });
  }

  vig.sw = { activateWaiting: activateWaiting };

  if (!("serviceWorker" in navigator) || !vig.config.swUrl) return;

  navigator.serviceWorker.register(vig.config.swUrl, { scope: "/" }).then((reg) => {
    registration = reg;
    activateWaiting();
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      if (!worker) return;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed") activateWaiting();
      });
    });
  }).catch((e) => vig.reportError("caught", e));

  // Background Sync arrives in the worker, which asks open pages to send (sw.js).
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "vig-sync" && vig.uploader) vig.uploader.startAll("sync");
  });
})();

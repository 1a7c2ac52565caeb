// @ts-check
/* "Put this app on your home screen" guidance on My videos. Shown only in a browser tab (not
 * when already opened from the home screen), until the parent taps "Not now".
 *
 * On iPhone this matters most: Safari deletes a website's saved data after 7 days without a
 * visit, unsent videos included, unless the site is on the home screen.
 */
(function () {
  "use strict";
  const card = document.getElementById("vig-install");
  if (!card) return;
  const KEY = "vig-install-dismissed";
  const AGAIN_AFTER_MS = 30 * 864e5;
  const installButton = document.getElementById("install-now");
  let deferredPrompt = null;

  const standalone = window.matchMedia("(display-mode: standalone)").matches ||
    window.navigator.standalone === true;
  let dismissedAt;
  try { dismissedAt = Number(localStorage.getItem(KEY)) || 0; } catch { dismissedAt = 0; }
  if (standalone || Date.now() - dismissedAt < AGAIN_AFTER_MS) return;

  const ua = navigator.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  const android = /Android/.test(ua);
  const mine = ios ? "ios" : android ? "android" : "other";
  card.querySelectorAll("[data-platform]").forEach((/** @type {HTMLElement} */ steps) => {
    steps.hidden = steps.dataset.platform !== mine;
  });
  // Open the first time; folded away (one line) once the parent has read it.
  const SEEN = "vig-install-seen";
  const details = /** @type {HTMLDetailsElement | null} */ (document.getElementById("install-details"));
  try {
    if (details && localStorage.getItem(SEEN)) details.open = false;
    localStorage.setItem(SEEN, "1");
  } catch { /* private mode: stays open */ }
  card.hidden = false;

  // Chrome on Android can install with one tap once it offers to.
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    deferredPrompt = event;
    installButton.hidden = false;
  });
  installButton.addEventListener("click", async () => {
    if (!deferredPrompt) return;
    deferredPrompt.prompt();
    await deferredPrompt.userChoice.catch(() => null);
    deferredPrompt = null;
    installButton.hidden = true;
  });
  window.addEventListener("appinstalled", () => { card.hidden = true; });
  document.getElementById("install-dismiss").addEventListener("click", () => {
    try { localStorage.setItem(KEY, String(Date.now())); } catch { /* private mode */ }
    card.hidden = true;
  });
})();

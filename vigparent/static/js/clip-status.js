/* Clips being cut: ask the server now and then, and show each clip as soon as it is ready.
 *
 * @requires js/common.js
 */
(function () {
  "use strict";
  const vig = (window.vig = window.vig || {});
  const POLL_MS = 2500;
  // Cutting a one-minute clip takes seconds; after this long something is stuck, stop asking.
  const GIVE_UP_MS = 15 * 60 * 1000;

  function showReady(card, body) {
    const media = card.querySelector("[data-clip-media]");
    if (media && body.media) {
      const video = document.createElement("video");
      video.src = body.media;
      if (body.poster) video.poster = body.poster;
      video.preload = "none";
      video.controls = true;
      video.playsInline = true;
      const title = card.querySelector(".clip-card-title");
      video.setAttribute("aria-label", "Clip: " + (title ? title.textContent.trim() : ""));
      media.replaceChildren(video);
    }
    card.querySelectorAll("[data-when-ready]").forEach(function (el) { el.hidden = false; });
  }

  function update(card, body) {
    const label = card.querySelector("[data-clip-status-label]");
    if (label) {
      label.textContent = body.label;
      label.className = "clip-status clip-status-" + body.status;
    }
    const hint = card.querySelector("[data-clip-refresh-hint]");
    if (hint) hint.remove();
    if (body.status === "ready") showReady(card, body);
    if (body.status === "failed") {
      card.querySelectorAll("[data-when-failed]").forEach(function (el) { el.hidden = false; });
    }
    const live = document.querySelector("[data-announce]");
    const title = card.querySelector(".clip-card-title");
    if (live && title) live.textContent = title.textContent.trim() + ": " + body.label;
  }

  function watch(card) {
    const url = card.getAttribute("data-clip-poll");
    const started = Date.now();
    async function tick() {
      if (Date.now() - started > GIVE_UP_MS) return;
      try {
        const result = await vig.fetchJSON(url, { method: "GET" });
        if (result.status === 404) return; // deleted meanwhile (another tab): stop asking
        if (result.ok && result.body && result.body.status !== "cutting") {
          card.removeAttribute("data-clip-poll");
          update(card, result.body);
          return;
        }
      } catch {
        // Offline for a moment: just ask again later.
      }
      window.setTimeout(tick, POLL_MS);
    }
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-clip-poll]").forEach(watch);
  });
})();

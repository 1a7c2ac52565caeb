// @ts-check
/* The parent's clip player: big buttons a thumb can hit, and a seek bar as wide as the phone.
 * Without this script the browser's own controls are shown instead. */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);

  function clock(t, round) {
    if (!isFinite(t) || t < 0) t = 0;
    const s = round ? Math.round(t) : Math.floor(t);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  const players = [];

  function reviewPlayer(figure) {
    const video = figure.querySelector("video");
    const controls = figure.querySelector("[data-controls]");
    const seek = figure.querySelector("[data-seek]");
    const time = figure.querySelector("[data-time]");
    const bigPlay = figure.querySelector(".review-big-play");
    const playLabel = figure.querySelector("[data-play-label]");
    let dragging = false;

    video.removeAttribute("controls");
    controls.hidden = false;
    bigPlay.hidden = false;
    players.push(video);

    // Known from the clip's marks, so the bar and times are right before anything loads.
    const expected = parseFloat(figure.getAttribute("data-duration")) || 0;

    function render() {
      const d = isFinite(video.duration) && video.duration > 0 ? video.duration : expected;
      if (d && seek.max !== String(d)) seek.max = String(d);
      if (!dragging) seek.value = String(video.currentTime);
      const said = t("%(now)s of %(total)s", { now: clock(video.currentTime), total: clock(d, true) });
      time.textContent = said;
      seek.setAttribute("aria-valuetext", said);
      playLabel.textContent = video.paused ? t("Play") : t("Pause");
      bigPlay.hidden = !video.paused;
    }

    function play() {
      // One clip at a time: starting this one pauses any other.
      players.forEach(function (other) { if (other !== video) other.pause(); });
      const started = video.play();
      if (started && started.catch) started.catch(function () { render(); });
    }

    function toggle() {
      if (video.paused) play(); else video.pause();
    }

    function fullscreen() {
      if (document.fullscreenElement) { document.exitFullscreen(); return; }
      if (video.requestFullscreen) video.requestFullscreen();
      else if (video.webkitEnterFullscreen) video.webkitEnterFullscreen(); // iPhone
    }

    figure.addEventListener("click", function (e) {
      const button = e.target.closest("[data-action]");
      if (!button) {
        if (e.target === video) toggle();
        return;
      }
      const action = button.getAttribute("data-action");
      if (action === "play") toggle();
      else if (action === "restart") { video.currentTime = 0; play(); }
      else if (action === "fullscreen") fullscreen();
    });

    seek.addEventListener("pointerdown", function () { dragging = true; });
    seek.addEventListener("pointerup", function () { dragging = false; });
    seek.addEventListener("change", function () { dragging = false; });
    seek.addEventListener("input", function () {
      if (video.readyState === 0) video.load();
      video.currentTime = parseFloat(seek.value);
      render();
    });

    ["loadedmetadata", "durationchange", "timeupdate", "play", "pause", "ended", "seeked"].forEach(
      function (name) { video.addEventListener(name, render); }
    );
    video.addEventListener("ended", function () { bigPlay.hidden = false; });
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-review-player]").forEach(reviewPlayer);
  });
})();

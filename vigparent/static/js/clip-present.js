/* Presentation mode: keys a presenter (or a clicker) uses to play and move between clips. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.querySelector("[data-present]");
    if (!root) return;
    const video = root.querySelector("video");

    const play = root.querySelector("[data-present-play]");
    play.hidden = false;
    function showState() { play.textContent = video.paused ? "Play" : "Pause"; }
    play.addEventListener("click", function () {
      if (video.paused) video.play(); else video.pause();
    });
    ["play", "pause", "ended"].forEach(function (name) { video.addEventListener(name, showState); });

    function go(attr) {
      const url = root.getAttribute(attr);
      if (url) window.location.assign(url);
    }

    function fill() {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (video.requestFullscreen) video.requestFullscreen();
    }

    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target;
      if (target && target.closest && target.closest("input, textarea, select")) return;
      switch (e.key) {
        case " ":
          // A focused video, link or button already does its own thing with Space.
          if (target && target.closest && target.closest("video, a[href], button")) return;
          e.preventDefault();
          if (video.paused) video.play(); else video.pause();
          break;
        case "ArrowLeft":
        case "PageUp":
          if (target === video) return; // the player's own seek keys
          e.preventDefault();
          go("data-previous");
          break;
        case "ArrowRight":
        case "PageDown":
          if (target === video) return;
          e.preventDefault();
          go("data-next");
          break;
        case "f":
        case "F":
          e.preventDefault();
          fill();
          break;
        default:
      }
    });
  });
})();

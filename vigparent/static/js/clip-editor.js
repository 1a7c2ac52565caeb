/* The practitioner's clip editor: a player built for marking in and out points.
 *
 * In point = the first frame of the clip; out point = the clip stops just before the frame
 * shown (vigparent.video.cut_clip cuts exactly that). Both are taken from the frame on screen
 * (requestVideoFrameCallback tells us its timestamp), not from the playhead, which can sit
 * anywhere inside a frame.
 */
(function () {
  "use strict";

  function clock(t) {
    if (t === null || !isFinite(t)) return "–";
    const hundredths = Math.round(t * 100);
    const minutes = Math.floor(hundredths / 6000);
    const rest = hundredths % 6000;
    return minutes + ":" + String(Math.floor(rest / 100)).padStart(2, "0") + "." +
      String(rest % 100).padStart(2, "0");
  }

  // Milliseconds, rounded down: rounding up could move an in point onto the next frame.
  function millis(t) {
    return (Math.floor(t * 1000 + 1e-6) / 1000).toFixed(3);
  }

  function parse(field) {
    if (!field || field.value.trim() === "") return null;
    const n = parseFloat(field.value);
    return isFinite(n) ? n : null;
  }

  function isTyping(el) {
    if (!el || !el.closest) return false;
    if (el.closest("textarea, select, [contenteditable='true']")) return true;
    if (el.tagName === "INPUT") {
      return !["range", "radio", "checkbox", "button", "submit"].includes(el.type);
    }
    return false;
  }

  function clipEditor(root) {
    const video = root.querySelector("video");
    const fps = parseFloat(root.getAttribute("data-frame-rate")) || 30;
    const frame = 1 / fps;
    const inField = document.querySelector("[data-in-field]");
    const outField = document.querySelector("[data-out-field]");
    const scrub = root.querySelector("[data-scrub]");
    const playButton = root.querySelector("[data-action='play']");
    const announce = document.querySelector("[data-announce]");
    const q = function (sel) { return root.querySelector(sel); };
    const hasFrameCallback = "requestVideoFrameCallback" in HTMLVideoElement.prototype;

    let shownTime = null; // media time of the frame on screen, when the browser tells us
    let previewEnd = null;
    let dragging = false;

    video.removeAttribute("controls");
    root.querySelectorAll("[data-transport], [data-timeline], [data-readout]").forEach(function (el) {
      el.hidden = false;
    });

    function duration() {
      return isFinite(video.duration) ? video.duration : 0;
    }

    function frameTime() {
      const t = video.currentTime;
      // Trust the callback's timestamp only when it belongs to where the playhead is now.
      if (shownTime !== null && !video.seeking && t >= shownTime - 1e-4 && t - shownTime < frame) {
        return shownTime;
      }
      return Math.floor(t * fps + 1e-4) / fps;
    }

    function say(text) {
      if (announce) announce.textContent = text;
    }

    function pct(t) {
      const d = duration();
      return d > 0 ? Math.min(100, Math.max(0, (t / d) * 100)) : 0;
    }

    function place(el, from, to) {
      el.style.left = pct(from) + "%";
      if (to !== undefined) el.style.width = Math.max(0.3, pct(to) - pct(from)) + "%";
    }

    function render() {
      const t = frameTime();
      q("[data-current]").textContent = clock(video.currentTime);
      q("[data-duration]").textContent = clock(duration() || null);
      q("[data-frame]").textContent = String(Math.round(t * fps));
      if (!dragging) scrub.value = String(video.currentTime);
      const a = parse(inField);
      const b = parse(outField);
      q("[data-in-label]").textContent = a === null ? "not set" : clock(a);
      q("[data-out-label]").textContent = b === null ? "not set" : clock(b);
      let length = "–";
      if (a !== null && b !== null) length = b > a ? (b - a).toFixed(2) + " s" : "out is before in";
      q("[data-length-label]").textContent = length;
      const range = q("[data-range]");
      const inEdge = q("[data-in-edge]");
      const outEdge = q("[data-out-edge]");
      inEdge.hidden = a === null;
      outEdge.hidden = b === null;
      if (a !== null) place(inEdge, a);
      if (b !== null) place(outEdge, b);
      range.hidden = !(a !== null && b !== null && b > a);
      if (!range.hidden) place(range, a, b);
      playButton.textContent = video.paused ? "Play" : "Pause";
    }

    function placeMarks() {
      root.querySelectorAll("[data-mark-start]").forEach(function (mark) {
        place(mark, parseFloat(mark.getAttribute("data-mark-start")),
          parseFloat(mark.getAttribute("data-mark-end")));
      });
    }

    function seek(t) {
      // The frame on screen is unknown until the browser presents the one we seek to.
      shownTime = null;
      video.currentTime = Math.min(Math.max(0, t), Math.max(0, duration() - frame / 4));
    }

    function stepFrames(n) {
      video.pause();
      previewEnd = null;
      // Land a quarter into the wanted frame, so rounding never shows its neighbour.
      seek(frameTime() + n * frame + frame / 4);
    }

    function togglePlay() {
      previewEnd = null;
      if (video.paused) video.play(); else video.pause();
    }

    function setIn() {
      const t = frameTime();
      inField.value = millis(t);
      say("In point set at " + clock(t));
      render();
    }

    function setOut() {
      const t = frameTime();
      outField.value = millis(t);
      say("Out point set at " + clock(t));
      render();
    }

    function preview() {
      const a = parse(inField);
      const b = parse(outField);
      if (a === null || b === null || b <= a) {
        say("Set an in point and a later out point first.");
        return;
      }
      previewEnd = b;
      seek(a + frame / 4);
      video.play();
      say("Playing the clip from " + clock(a) + " to " + clock(b));
    }

    function checkPreviewEnd(t) {
      if (previewEnd !== null && t >= previewEnd - frame / 2) {
        const end = previewEnd;
        previewEnd = null;
        video.pause();
        // Rest on the clip's last frame, the one just before the out point.
        seek(end - frame * 0.75);
      }
    }

    const actions = {
      "play": togglePlay,
      "back-second": function () { previewEnd = null; seek(video.currentTime - 1); },
      "forward-second": function () { previewEnd = null; seek(video.currentTime + 1); },
      "back-frame": function () { stepFrames(-1); },
      "forward-frame": function () { stepFrames(1); },
      "set-in": setIn,
      "set-out": setOut,
      "preview": preview,
      "clear": function () { inField.value = ""; outField.value = ""; say("In and out cleared."); render(); },
    };

    root.addEventListener("click", function (e) {
      const button = e.target.closest("[data-action]");
      if (button && actions[button.getAttribute("data-action")]) {
        actions[button.getAttribute("data-action")]();
      }
    });

    const keys = {
      " ": "play", "ArrowLeft": "back-second", "ArrowRight": "forward-second",
      ",": "back-frame", ".": "forward-frame", "i": "set-in", "o": "set-out", "p": "preview",
    };

    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      const target = e.target;
      const name = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      const action = keys[name];
      if (!action) return;
      // Radio buttons and disclosure toggles keep their own arrow and space keys.
      if (target && target.matches && target.matches("input[type=radio], input[type=checkbox]") &&
          (name === " " || name.startsWith("Arrow"))) return;
      // Outside the player, Space keeps activating the focused button or link (the form's
      // submit button, Publish, ...); inside it, Space always means play or pause.
      if (name === " " && target && target.closest &&
          target.closest("button, a[href], summary, input") && !target.closest("[data-transport], [data-timeline]")) return;
      e.preventDefault();
      actions[action]();
    });
    // A focused button would also "click" on Space's keyup; the keydown already acted.
    document.addEventListener("keyup", function (e) {
      if (e.key === " " && e.target && e.target.matches && e.target.matches("[data-action]")) {
        e.preventDefault();
      }
    });

    scrub.addEventListener("pointerdown", function () { dragging = true; });
    scrub.addEventListener("pointerup", function () { dragging = false; });
    scrub.addEventListener("input", function () {
      previewEnd = null;
      seek(parseFloat(scrub.value));
    });
    scrub.addEventListener("keydown", function (e) {
      // The slider's own arrow keys would fight the ±1 s shortcut.
      if (e.key.startsWith("Arrow")) e.preventDefault();
    });

    [inField, outField].forEach(function (field) {
      field.addEventListener("input", render);
    });

    video.addEventListener("loadedmetadata", function () {
      scrub.max = String(duration());
      placeMarks();
      render();
    });
    video.addEventListener("seeking", function () { shownTime = null; });
    ["timeupdate", "play", "pause", "seeked", "durationchange"].forEach(function (name) {
      video.addEventListener(name, function () {
        checkPreviewEnd(video.currentTime);
        render();
      });
    });
    if (hasFrameCallback) {
      const onFrame = function (_now, meta) {
        shownTime = meta.mediaTime;
        checkPreviewEnd(meta.mediaTime);
        render();
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    if (video.readyState >= 1) {
      scrub.max = String(duration());
      placeMarks();
    }
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.querySelector("[data-editor]");
    if (root) clipEditor(root);
  });
})();

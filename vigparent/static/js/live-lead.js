// @ts-check
/* The practitioner's screen in a live review: their own player is the room's clock. Every
 * play, pause, seek, frame step and clip change is sent as one small command; the family's
 * phones follow. Shows who is here, the moments the family marked ("I noticed something
 * here") on the timeline, and lets the practitioner show notes and ask the phone to film.
 *
 * @requires js/common.js js/live-sync.js
 */
(function () {
  "use strict";
  const root = /** @type {HTMLElement | null} */ (document.querySelector("[data-live-lead]"));
  const vig = /** @type {Vig} */ (window.vig);
  if (!root || !vig || !vig.liveSync) return;
  const sync = vig.liveSync;
  const serverClock = sync.serverClock();
  const base = root.dataset.base || "";
  const me = root.dataset.me || "";

  const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
  const video = /** @type {HTMLVideoElement} */ (q("[data-live-video]"));
  const el = {
    present: q("[data-present]"), problem: q("[data-problem]"), title: q("[data-clip-title]"),
    count: q("[data-clip-count]"), time: q("[data-time]"),
    play: /** @type {HTMLButtonElement} */ (q("[data-play]")),
    timeline: q("[data-timeline]"), marks: q("[data-marks]"), playhead: q("[data-playhead]"), noticedList: q("[data-noticed-list]"),
    noteText: /** @type {HTMLTextAreaElement} */ (q("[data-note-text]")),
    strength: /** @type {HTMLInputElement} */ (q("[data-strength]")),
    shown: q("[data-shown]"),
    film: /** @type {HTMLButtonElement | null} */ (root.querySelector("[data-film]")),
    filmState: q("[data-film-state]"),
  };
  /** @type {{id: number, title: string, length: number, url: string, fps: number}[]} */
  const clips = JSON.parse(root.dataset.clips || "[]");
  let index = 0;
  /** @type {{id: number, clip: number, time: number, by: string}[]} */
  let marks = [];
  /** @type {LiveState | null} */
  let room = null;
  let restored = false;
  /** @type {{clip: number, time: number, playing: boolean, at: number} | null} */
  let sent = null;
  let inFlight = false;
  let again = false;

  function say(/** @type {HTMLElement | null} */ node, /** @type {string} */ text) { if (node) node.textContent = text || ""; }
  const clip = () => clips[index];

  function problem(/** @type {string} */ text) {
    say(el.problem, text);
    el.problem.hidden = !text;
  }

  // ------------------------------------------------------------ commands
  function send() {
    if (!clip()) return;
    if (inFlight) { again = true; return; }
    inFlight = true;
    again = false;
    const command = {
      clip: clip().id, time: video.currentTime, playing: !video.paused && !video.ended,
      at: Math.round(serverClock.now(Date.now())),
    };
    sent = command;
    sync.post(base + "/command", command).then((answer) => {
      problem(answer.ok ? "" : (answer.body && answer.body.message) || "That did not reach the family. Try again.");
      if (answer.ok) root.dataset.seq = String(answer.body.seq);
    }).catch(() => {
      problem("No connection. The family's phone may be behind.");
    }).finally(() => {
      inFlight = false;
      if (again) send();
    });
  }

  ["playing", "pause", "seeked", "ended"].forEach((name) => video.addEventListener(name, () => {
    if (restored) send();
    render();
  }));
  ["timeupdate", "loadedmetadata", "play"].forEach((name) => video.addEventListener(name, render));

  // A stall (buffering) puts this player behind what the family was told: tell them again.
  setInterval(() => {
    if (!sent || !sent.playing || video.paused || video.seeking) return;
    const predicted = sent.time + (serverClock.now(Date.now()) - sent.at) / 1000;
    if (Math.abs(video.currentTime - predicted) > 0.1) send();
  }, 1000);

  function render() {
    say(el.play, video.paused ? "Play" : "Pause");
    say(el.time, sync.clock(video.currentTime) + " of " + sync.clock(clip() ? clip().length : 0));
    say(el.title, clip() ? clip().title : "");
    say(el.count, "Clip " + (index + 1) + " of " + clips.length);
    const length = clip() ? clip().length || video.duration || 1 : 1;
    el.playhead.style.left = Math.min(100, (100 * video.currentTime) / length) + "%";
    root.querySelectorAll("[data-action=clip]").forEach((b) => {
      if (Number(b.getAttribute("data-index")) === index) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
    renderMarks();
  }

  function choose(/** @type {number} */ i, /** @type {number} */ at) {
    if (i < 0 || i >= clips.length) return;
    const changed = i !== index || !video.currentSrc;
    index = i;
    if (changed) {
      video.src = clip().url;
      video.currentTime = at;
    } else {
      video.currentTime = at;
    }
    render();
  }

  function frameStep(/** @type {number} */ n) {
    video.pause();
    const fps = clip().fps || 25;
    // Land a quarter into the frame, so rounding never shows its neighbour.
    const frame = Math.floor(video.currentTime * fps + 1e-4) + n;
    video.currentTime = Math.max(0, (frame + 0.25) / fps);
  }

  root.addEventListener("click", (event) => {
    const button = /** @type {HTMLElement} */ (event.target).closest("[data-action]");
    if (!button) return;
    const action = button.getAttribute("data-action");
    if (action === "play") { if (video.paused) video.play(); else video.pause(); }
    else if (action === "back-frame") frameStep(-1);
    else if (action === "next-frame") frameStep(1);
    else if (action === "previous") { video.pause(); choose(index - 1, 0); send(); }
    else if (action === "next") { video.pause(); choose(index + 1, 0); send(); }
    else if (action === "clip") { video.pause(); choose(Number(button.getAttribute("data-index")), 0); send(); }
    else if (action === "seek-mark") {
      video.pause();
      choose(clips.findIndex((c) => c.id === Number(button.getAttribute("data-clip"))), Number(button.getAttribute("data-time")));
    } else if (action === "show-note") showNote(el.noteText.value, el.strength.checked);
    else if (action === "clear-note") { el.noteText.value = ""; el.strength.checked = false; showNote("", false); }
    else if (action === "film") askToFilm(!(room && room.film === "asked"));
  });

  document.addEventListener("keydown", (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (e.altKey || e.ctrlKey || e.metaKey || target.closest("input, textarea, select, button, a, video")) return;
    if (e.key === " ") { e.preventDefault(); if (video.paused) video.play(); else video.pause(); }
    else if (e.key === ",") frameStep(-1);
    else if (e.key === ".") frameStep(1);
  });

  // ------------------------------------------------------------ notes and filming
  function showNote(/** @type {string} */ text, /** @type {boolean} */ strength) {
    sync.post(base + "/note", { text: text, strength: strength }).then((answer) => {
      problem(answer.ok ? "" : (answer.body && answer.body.message) || "That note was not shown. Try again.");
    }).catch(() => problem("No connection. Try again."));
  }

  function askToFilm(/** @type {boolean} */ ask) {
    sync.post(base + "/film", { ask: ask }).then((answer) => {
      problem(answer.ok ? "" : (answer.body && answer.body.message) || "That did not reach the family. Try again.");
    }).catch(() => problem("No connection. Try again."));
  }

  const FILM_WORDS = {
    "": "Asked. Waiting for the family to tap Start filming on their phone.",
    filming: "The family is filming now.",
  };
  const ANSWER_WORDS = {
    not_now: "The family said not now.",
    stopped: "The family stopped filming. The video will arrive like their other videos.",
  };

  function renderRoom() {
    if (!room) return;
    const asked = room.film === "asked";
    if (el.film) say(el.film, asked ? "Take back the request to film" : "Ask to film");
    say(el.filmState, asked ? FILM_WORDS[room.film_answer] || "" : ANSWER_WORDS[room.film_answer] || "");
    const shown = [];
    if (room.strength) shown.push("what they did that helped");
    if (room.note) shown.push("your note");
    say(el.shown, shown.length ? "The family sees " + shown.join(" and ") + "." : "The family sees no note now.");
  }

  // ------------------------------------------------------------ who is here, what they noticed
  function showPresent(/** @type {{id: string, role: string, name: string}[]} */ present) {
    const family = present.filter((p) => p.id !== me && p.role !== "practitioner").map((p) => p.name || "Parent");
    root.dataset.familyHere = family.length ? "yes" : "no";
    say(el.present, family.length
      ? "Here now: you and " + family.join(", ") + "."
      : "Waiting for the family to join. They see it on their home page.");
  }

  function renderMarks() {
    const here = marks.filter((m) => clip() && m.clip === clip().id);
    const length = clip() ? clip().length || video.duration || 1 : 1;
    el.marks.replaceChildren(...here.map((m) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "live-mark";
      b.setAttribute("data-action", "seek-mark");
      b.setAttribute("data-clip", String(m.clip));
      b.setAttribute("data-time", String(m.time));
      b.style.left = Math.min(100, (100 * m.time) / length) + "%";
      b.setAttribute("aria-label", m.by + " noticed something at " + sync.clock(m.time));
      return b;
    }));
    el.noticedList.replaceChildren(...marks.map((m) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "button button-quiet";
      b.setAttribute("data-action", "seek-mark");
      b.setAttribute("data-clip", String(m.clip));
      b.setAttribute("data-time", String(m.time));
      const title = (clips.find((c) => c.id === m.clip) || { title: "a clip" }).title;
      b.textContent = m.by + " noticed something at " + sync.clock(m.time) + " in “" + title + "”";
      li.append(b);
      return li;
    }));
  }

  el.timeline.addEventListener("click", (event) => {
    if (event.target !== el.timeline || !clip()) return;
    const box = el.timeline.getBoundingClientRect();
    video.currentTime = ((event.clientX - box.left) / box.width) * clip().length;
  });

  sync.listen(root.dataset.events || "", (data) => {
    serverClock.sample(data.now, Date.now());
    if (data.type === "snapshot") {
      showPresent(data.present);
      marks = data.noticed;
      room = data.state;
      if (!restored) {
        // Back after a reload: carry on where the room is (paused), without telling anyone.
        const i = clips.findIndex((c) => c.id === data.state.clip);
        const at = i < 0 ? 0 : sync.expectedTime(data.state, serverClock.now(Date.now()), clips[i].length);
        choose(i < 0 ? 0 : i, at);
        restored = true;
      }
      renderRoom();
      render();
    } else if (data.type === "state") {
      room = data;
      renderRoom();
    } else if (data.type === "presence") {
      showPresent(data.present);
    } else if (data.type === "noticed") {
      if (!marks.some((m) => m.id === data.id)) marks.push(data);
      render();
    } else if (data.type === "ended") {
      say(el.present, "This live review has ended.");
    }
  }, (up) => { root.dataset.connected = up ? "yes" : "no"; });
  render();
})();

// @ts-check
/* The parent's phone in a live review (/live/): it fetches its own full-quality copy of each
 * clip, then follows the practitioner's play, pause and seek over the room's tiny control
 * messages. "I noticed something here" marks the moment on the practitioner's timeline. The
 * practitioner's notes appear as they are shown. A request to film shows the camera; nothing
 * is filmed until the parent taps Start filming (recorder.js, exactly as on the film page).
 *
 * @requires js/common.js js/live-sync.js js/recorder.js
 */
(function () {
  "use strict";
  const root = /** @type {HTMLElement | null} */ (document.querySelector("[data-live-parent]"));
  const vig = /** @type {Vig} */ (window.vig);
  if (!root || !vig || !vig.liveSync) return;
  const sync = vig.liveSync;
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  const serverClock = sync.serverClock();
  const base = root.dataset.base || "";
  const me = root.dataset.me || "";

  const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
  const video = /** @type {HTMLVideoElement} */ (q("[data-live-video]"));
  const el = {
    watch: q("[data-watch]"), present: q("[data-present]"), ready: q("[data-ready]"),
    title: q("[data-clip-title]"), signal: q("[data-signal]"), sound: q("[data-sound]"),
    note: q("[data-note]"), noteText: q("[data-note-text]"),
    strength: q("[data-strength]"), strengthText: q("[data-strength-text]"),
    noticed: /** @type {HTMLButtonElement} */ (q("[data-noticed]")), noticedSaid: q("[data-noticed-said]"),
    film: q("[data-film]"), ask: q("[data-film-ask]"), notNow: /** @type {HTMLButtonElement | null} */ (root.querySelector("[data-not-now]")),
    ended: q("[data-ended]"), withdrawn: q("[data-withdrawn]"),
  };

  /** @type {{id: number, title: string, length: number, url: string}[]} */
  let clips = [];
  /** @type {Map<number, string>} clip id -> object URL of this phone's own copy */
  const copies = new Map();
  /** @type {LiveState | null} */
  let state = null;
  /** @type {number | null} */
  let shownClip = null;
  let fetching = false;
  let filmOpen = false;
  let filmStarted = false;
  let over = false;

  function show(/** @type {HTMLElement | null} */ node, /** @type {boolean} */ visible) { if (node) node.hidden = !visible; }
  function say(/** @type {HTMLElement | null} */ node, /** @type {string} */ text) { if (node) node.textContent = text || ""; }

  // ------------------------------------------------------------ this phone's own copies
  async function fetchCopies() {
    if (fetching) return;
    fetching = true;
    const wanted = clips.slice().sort((a, b) => Number(b.id === (state && state.clip)) - Number(a.id === (state && state.clip)));
    for (const clip of wanted) {
      if (copies.has(clip.id)) continue;
      say(el.ready, t("Getting your clips ready: %(done)s of %(all)s…", { done: copies.size + 1, all: clips.length }));
      try {
        const response = await fetch(clip.url, { credentials: "same-origin" });
        if (!response.ok) throw new Error("clip fetch " + response.status);
        copies.set(clip.id, URL.createObjectURL(await response.blob()));
        if (clip.id === shownClip) useSource(clip.id, true);
      } catch {
        // No copy: this clip plays straight from the server instead (needs more signal).
        break;
      }
    }
    fetching = false;
    const all = clips.every((c) => copies.has(c.id));
    say(el.ready, all ? t("Your clips are ready on this phone.") : t("Some clips will play over the internet."));
    root.dataset.copies = String(copies.size);
  }

  function useSource(/** @type {number} */ id, /** @type {boolean} */ keepTime) {
    const clip = clips.find((c) => c.id === id);
    if (!clip) return;
    const at = video.currentTime;
    video.src = copies.get(id) || clip.url;
    if (keepTime) video.currentTime = at;
    root.dataset.source = copies.has(id) ? "copy" : "server";
    follow();
  }

  function showClip(/** @type {number | null} */ id) {
    if (id === shownClip || id === null) return;
    shownClip = id;
    const clip = clips.find((c) => c.id === id);
    say(el.title, clip ? clip.title : "");
    useSource(id, false);
  }

  // ------------------------------------------------------------ following the practitioner
  function length() {
    if (isFinite(video.duration) && video.duration > 0) return video.duration;
    const clip = clips.find((c) => c.id === shownClip);
    return clip ? clip.length : 0;
  }

  function play() {
    const started = video.play();
    if (!started) return;
    started.catch((/** @type {any} */ err) => {
      if (!err || err.name !== "NotAllowedError" || video.muted) return;
      // The phone would not play sound before a tap: play silently, and offer the sound.
      video.muted = true;
      show(el.sound, true);
      video.play().catch(() => {});
    });
  }

  function follow() {
    if (!state || state.clip === null || filmOpen || over || video.readyState < 1) return;
    const end = length();
    const want = sync.expectedTime(state, serverClock.now(Date.now()), end);
    const running = state.playing && (end <= 0 || want < end);
    const fix = sync.correction(video.currentTime, want, running);
    if (fix.seek !== null && !video.seeking) video.currentTime = fix.seek;
    if (video.playbackRate !== fix.rate) video.playbackRate = fix.rate;
    if (running) { if (video.paused) play(); } else if (!video.paused) video.pause();
  }
  setInterval(follow, 200);
  video.addEventListener("loadedmetadata", follow);
  video.addEventListener("canplay", follow);

  function apply(/** @type {LiveState} */ next) {
    if (state && next.seq < state.seq) return;
    state = next;
    root.dataset.seq = String(next.seq);
    showClip(next.clip);
    say(el.noteText, next.note);
    show(el.note, !!next.note);
    say(el.strengthText, next.strength);
    show(el.strength, !!next.strength);
    filmRequest(next.film === "asked");
    follow();
  }

  function showPresent(/** @type {{id: string, role: string, name: string}[]} */ present) {
    const names = present.filter((p) => p.id !== me)
      .map((p) => p.name || (p.role === "practitioner" ? t("Your practitioner") : t("Parent")));
    say(el.present, names.length ? t("Here now: %(names)s and you.", { names: names.join(", ") }) : t("Waiting for your practitioner…"));
  }

  // ------------------------------------------------------------ "I noticed something here"
  el.noticed.addEventListener("click", async () => {
    if (!state || state.clip === null) return;
    el.noticed.disabled = true;
    try {
      const answer = await sync.post(base + "/noticed", { clip: state.clip, time: video.currentTime });
      say(el.noticedSaid, answer.ok
        ? t("Thank you. Your practitioner can see the moment you chose.")
        : t("That did not send. Please try again."));
    } catch {
      say(el.noticedSaid, t("No signal right now. Please try again in a moment."));
    }
    el.noticed.disabled = false;
  });

  el.sound.addEventListener("click", () => {
    video.muted = false;
    show(el.sound, false);
    follow();
  });

  // ------------------------------------------------------------ filming when asked
  function filmRequest(/** @type {boolean} */ asked) {
    if (!el.film || !vig.recorder) return;
    if (asked && !filmOpen) {
      filmOpen = true;
      filmStarted = false;
      show(el.ask, true);
      video.pause();
      show(el.watch, false);
      show(el.film, true);
      vig.recorder.open();
      el.film.scrollIntoView({ block: "start" });
    } else if (!asked && filmOpen && !filmStarted) {
      closeFilm();
    }
  }

  function closeFilm() {
    filmOpen = false;
    if (vig.recorder) vig.recorder.close();
    show(el.film, false);
    show(el.watch, !over);
    follow();
  }

  function answer(/** @type {string} */ what) {
    sync.post(base + "/film-answer", { answer: what }).catch(() => {});
  }

  if (el.notNow) {
    el.notNow.addEventListener("click", () => {
      if (vig.recorder && vig.recorder.filming()) return;
      if (!filmStarted) answer("not_now");
      closeFilm();
    });
  }
  root.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (target.closest("#rec-start")) {
      // From here the parent's video is theirs to keep or delete; the recorder offers the
      // way back once it is sent ("Back to the clips").
      filmStarted = true;
      show(el.ask, false);
      answer("filming");
    } else if (target.closest("#rec-discard-yes")) {
      filmStarted = false;
      show(el.ask, true);
    } else if (target.closest("#rec-stop")) {
      answer("stopped");
    } else if (target.closest("[data-live-back]")) {
      closeFilm();
    }
  });

  // ------------------------------------------------------------ the room
  function ended(/** @type {string | undefined} */ reason) {
    over = true;
    video.pause();
    video.removeAttribute("src");
    video.load();
    // The phone's own copies of the clips go with the review.
    copies.forEach((url) => URL.revokeObjectURL(url));
    copies.clear();
    show(el.present, false);
    show(el.watch, false);
    show(reason === "withdrawn" ? el.withdrawn : el.ended, true);
    // A video being filmed is the parent's: it carries on, and is kept and sent as usual.
    if (!(vig.recorder && vig.recorder.filming()) && !filmStarted) closeFilm();
  }

  sync.listen(root.dataset.events || "", (data) => {
    serverClock.sample(data.now, Date.now());
    if (data.type === "snapshot") {
      clips = data.clips;
      showPresent(data.present);
      apply(data.state);
      fetchCopies();
    } else if (data.type === "state") {
      apply(data);
    } else if (data.type === "presence") {
      showPresent(data.present);
    } else if (data.type === "ended") {
      ended(data.reason);
    }
  }, (up) => {
    show(el.signal, !up && !over);
    if (!up) root.dataset.drops = String(Number(root.dataset.drops || 0) + 1);
    root.dataset.connected = up ? "yes" : "no";
  });
})();

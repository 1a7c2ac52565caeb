// @ts-check
/* The recorder page (/film/): camera preview, filming into IndexedDB as it happens, watching
 * it back, then keep-and-send or delete. Also the fallbacks: the phone's own camera app and
 * choosing a video that is already on the phone.
 *
 * Switched on only when #vig-recorder is on the page.
 *
 * @requires js/common.js js/vig-store.js js/container.js js/uploader.js js/pending.js
 */
(function () {
  "use strict";
  const root = document.getElementById("vig-recorder");
  const vig = /** @type {Vig} */ (window.vig);
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  if (!root || !vig || !vig.store) return;

  const $ = (id) => document.getElementById(id);
  const $button = (id) => /** @type {HTMLButtonElement} */ ($(id));
  const $video = (id) => /** @type {HTMLVideoElement} */ ($(id));
  const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
  const NUDGE_S = Number(root.dataset.nudgeSeconds) || 300;
  const MAX_S = Number(root.dataset.maxSeconds) || 600;
  const LOW_BYTES = Number(root.dataset.lowStorageBytes) || 200 * 1024 * 1024;
  const FILE_CHUNK = 1024 * 1024;
  const TIMESLICE_MS = 1000;
  // Chromium and Firefox record WebM; Safari records H.264 MP4 (hardware, cooler, smaller).
  const WEBM = ["video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm"];
  const MP4 = ["video/mp4;codecs=avc1,mp4a.40.2", "video/mp4;codecs=avc1", "video/mp4"];

  const el = {
    camera: $("rec-camera"), preview: $video("rec-preview"), cameraMsg: $("rec-camera-msg"),
    timer: $("rec-timer"), clock: $("rec-clock"), note: $("rec-note"), space: $("rec-space"),
    awake: $("rec-awake"),
    start: $button("rec-start"), stop: $button("rec-stop"), switchCam: $button("rec-switch"),
    review: $("rec-review"), reviewHeading: $("review-heading"), playback: $video("rec-playback"),
    reviewMeta: $("rec-review-meta"), reviewNote: $("rec-review-note"), send: $button("rec-send"),
    discard: $button("rec-discard"), discardConfirm: $("rec-discard-confirm"),
    discardYes: $button("rec-discard-yes"), discardNo: $button("rec-discard-no"),
    sending: $("rec-sending"), sendingHeading: $("sending-heading"),
    sendingState: $("rec-sending-state"), sendingProgress: /** @type {HTMLProgressElement} */ ($("rec-sending-progress")),
    fallback: $("rec-fallback"), fileCamera: $input("rec-file-camera"), filePick: $input("rec-file-pick"),
    fileStatus: $("rec-file-status"),
  };

  let stream = null;
  let facing = "environment";
  let session = null; // the recording being filmed: {id, recorder, seq, chain, failed, ...}
  let importing = null; // id of a chosen file being copied in
  let reviewId = null;
  let reviewUrl = null;
  let sendingId = null;

  vig.recorderBusy = (id) => {
    const busy = [session && session.id, importing].filter(Boolean);
    return id === undefined ? busy.length > 0 : busy.includes(id);
  };

  /* Hold a Web Lock named after the recording until `done` settles: other pages (and this
   * one after a reload) can then tell a recording in progress from one whose page died. */
  function holdRecordingLock(id, done) {
    if (navigator.locks) navigator.locks.request("vig-recording-" + id, () => done).catch(() => {});
  }

  function show(node, visible) { if (node) node.hidden = !visible; }
  function say(node, text) { if (node) node.textContent = text || ""; }

  function chooseMimeType() {
    if (!window.MediaRecorder || typeof MediaRecorder.isTypeSupported !== "function") return "";
    const chromiumOrFirefox = !!navigator.userAgentData || /Firefox\//.test(navigator.userAgent);
    const order = chromiumOrFirefox ? WEBM.concat(MP4) : MP4.concat(WEBM);
    return order.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  }

  const canFilm = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);

  // ---------------------------------------------------------------- camera
  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    el.preview.srcObject = null;
    el.start.disabled = true;
    el.switchCam.disabled = true;
  }

  async function startCamera() {
    stopCamera();
    show(el.cameraMsg, true);
    say(el.cameraMsg, t("Turning the camera on…"));
    // At most 1280 on the long side whichever way the phone is held: 720p, no bigger.
    const video = {
      facingMode: { ideal: facing },
      width: { ideal: 1280, max: 1280 }, height: { ideal: 720, max: 1280 },
      frameRate: { ideal: 30, max: 30 },
    };
    try {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: video, audio: { echoCancellation: true } });
      } catch (err) {
        if (err.name !== "OverconstrainedError") throw err;
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing }, audio: true });
      }
    } catch (err) {
      cameraFailed(err);
      return false;
    }
    el.preview.srcObject = stream;
    show(document.getElementById("rec-blocked"), false);
    root.classList.remove("camera-failed");
    el.preview.classList.toggle("is-mirrored", facing === "user");
    show(el.cameraMsg, false);
    el.start.disabled = false;
    el.switchCam.disabled = false;
    stream.getVideoTracks().forEach((t) => t.addEventListener("ended", () => {
      if (session) stopFilming("camera");
    }));
    return true;
  }

  // The steps to unblock the camera differ by phone; show the parent only theirs.
  function platform() {
    const ua = navigator.userAgent;
    if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1)) return "ios";
    if (/Android/.test(ua)) return "android";
    return "other";
  }

  function cameraFailed(err) {
    const name = err && err.name;
    const blocked = name === "NotAllowedError" || name === "SecurityError";
    let text = t("The camera did not start. You can use the buttons below instead.");
    if (!err) text = t("Filming in this app does not work on this phone. Please use the buttons below.");
    if (name === "NotAllowedError" || name === "SecurityError") {
      text = t("The camera is blocked. Allow the camera for this app in your phone's settings, or use the buttons below.");
    } else if (name === "NotFoundError" || name === "OverconstrainedError") {
      text = t("We could not find a camera. You can use the buttons below instead.");
    } else if (name === "NotReadableError") {
      text = t("Another app has the camera. Close it and come back, or use the buttons below.");
    }
    say(el.cameraMsg, text);
    show(el.cameraMsg, true);
    el.fallback.classList.add("is-recommended");
    // One clear message with the way that works first (CSS moves the fallback up).
    const problem = document.getElementById("rec-blocked");
    if (!problem) return;
    problem.querySelector("h2").textContent = blocked ? t("The camera is blocked") : t("The camera did not start");
    let why = t("The camera did not start.");
    if (!err) why = t("Filming in this app does not work on this phone.");
    else if (blocked) why = t("This browser is not allowed to use the camera.");
    else if (name === "NotFoundError" || name === "OverconstrainedError") why = t("We could not find a camera.");
    else if (name === "NotReadableError") why = t("Another app has the camera. Close that app first.");
    say(document.getElementById("rec-blocked-msg"), why + " " + t("You can still film with your phone's camera app, above."));
    show(problem.querySelector("[data-steps-for=blocked]"), blocked);
    problem.querySelectorAll("[data-platform]").forEach((/** @type {HTMLElement} */ ol) => show(ol, ol.dataset.platform === platform()));
    show(problem, true);
    root.classList.add("camera-failed");
  }

  // ---------------------------------------------------------------- filming
  function elapsedSeconds() {
    return session ? (performance.now() - session.startedAt) / 1000 : 0;
  }

  function tick() {
    if (!session) return;
    const s = elapsedSeconds();
    say(el.clock, vig.fmt.clock(s));
    if (s >= NUDGE_S && !session.nudged) {
      session.nudged = true;
      say(el.note, t("5 minutes filmed. That's plenty — stop when you're ready. It stops by itself at 10 minutes."));
    }
    if (s >= MAX_S) stopFilming("limit");
  }

  function warnBeforeLeaving(event) {
    event.preventDefault();
    event.returnValue = "";
  }

  function filmingUi(on) {
    show(el.start, !on);
    show(el.stop, on);
    show(el.timer, on);
    if (!on) show(el.awake, false);
    el.switchCam.disabled = on || !stream;
    el.stop.disabled = false;
    root.classList.toggle("is-filming", on);
    show(el.fallback, !on);
  }

  async function startFilming() {
    if (session || !stream) return;
    el.start.disabled = true;
    say(el.note, "");
    vig.storageSpace.persist();
    const mimeType = chooseMimeType();
    let recorder;
    try {
      const options = { videoBitsPerSecond: 1000000, audioBitsPerSecond: 64000 };
      if (mimeType) options.mimeType = mimeType;
      recorder = new MediaRecorder(stream, options);
    } catch (err) {
      vig.reportError("caught", err);
      say(el.note, t("Filming does not work in this app on this phone. Please use the buttons below."));
      el.start.disabled = false;
      return;
    }
    const id = vig.newId();
    /** @type {(value?: unknown) => void} */
    let release;
    const done = new Promise((resolve) => { release = resolve; });
    holdRecordingLock(id, done); // before the record exists, so no other page thinks it orphaned
    try {
      await vig.store.create({ id: id, mimeType: mimeType || "video/webm", state: "recording", source: "camera" });
    } catch (err) {
      release();
      say(el.note, err instanceof vig.StorageFullError
        ? t("Your phone is full. Free up some space (old videos, photos or apps), then try again.")
        : t("This phone would not let us save a video. Please try again."));
      el.start.disabled = false;
      return;
    }
    const s = { id: id, recorder: recorder, seq: 0, saved: 0, chain: Promise.resolve(), failed: null,
      startedAt: performance.now(), nudged: false, reason: "button" };
    s.release = release;
    session = s;
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) saveChunk(s, event.data);
    });
    recorder.addEventListener("stop", () => finishFilming(s));
    recorder.addEventListener("error", () => stopFilming("error"));
    recorder.start(TIMESLICE_MS);
    s.timer = setInterval(tick, 250);
    root.classList.remove("filming-failed");
    filmingUi(true);
    tick();
    vig.wakeLock.hold("recording").then((awake) => { show(el.awake, !awake && session === s); });
    window.addEventListener("beforeunload", warnBeforeLeaving);
    el.stop.focus();
  }

  /* Chunks are written strictly in order; if one cannot be saved, filming stops there so the
   * saved video is whole up to that point (a gap would spoil everything after it). */
  function saveChunk(s, blob) {
    const seq = s.seq++;
    s.chain = s.chain.then(async () => {
      if (s.failed) return;
      try {
        await vig.store.appendChunk(s.id, seq, await vig.readBlob(blob));
        s.saved = seq + 1;
      } catch (err) {
        vig.reportError("storage_failed", err);
        s.failed = err;
        stopFilming(err instanceof vig.StorageFullError ? "full" : "write");
      }
    });
  }

  function stopFilming(reason) {
    const s = session;
    if (!s || s.stopping) return;
    s.stopping = true;
    s.reason = reason || "button";
    s.duration = elapsedSeconds();
    el.stop.disabled = true;
    clearInterval(s.timer);
    say(el.note, t("Saving…"));
    try {
      if (s.recorder.state !== "inactive") s.recorder.stop();
      else finishFilming(s);
    } catch {
      finishFilming(s);
    }
  }

  const STOP_WORDS = {
    limit: t("10 minutes filmed, so filming stopped by itself. Well done!"),
    full: t("Your phone is full, so filming stopped. We kept the first %s."),
    write: t("This phone stopped saving, so filming stopped. We kept the first %s."),
    camera: t("The camera stopped, so filming stopped. We kept the first %s."),
    error: t("Filming stopped by itself. We kept the first %s."),
  };

  async function finishFilming(s) {
    if (s.finished) return;
    s.finished = true;
    if (!s.stopping) { s.stopping = true; s.duration = elapsedSeconds(); clearInterval(s.timer); }
    await s.chain;
    if (s.reason !== "button" && s.reason !== "limit") {
      // Saving stopped part-way through a chunk: cut back to the last whole piece.
      await vig.makeWhole(s.id).catch((e) => vig.reportError("storage_failed", e));
    }
    s.release();
    vig.wakeLock.release("recording");
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    session = null;
    filmingUi(false);
    say(el.note, "");
    const rec = await vig.store.get(s.id).catch((e) => vig.reportError("storage_failed", e));
    if (!rec || !rec.size) {
      await vig.store.remove(s.id).catch(() => {});
      if (s.reason === "full") {
        say(el.note, t("Your phone is full, so nothing could be saved. Free up some space, then try again."));
        el.start.disabled = !stream;
      } else {
        filmingFailed();
      }
      return;
    }
    const kept = s.reason === "button" || s.reason === "limit" ? s.duration : Math.min(s.duration, s.saved);
    await vig.store.update(s.id, {
      state: "review", durationMs: Math.round(kept * 1000), mimeType: s.recorder.mimeType || rec.mimeType,
    });
    const words = STOP_WORDS[s.reason] ? STOP_WORDS[s.reason].replace("%s", vig.fmt.clock(kept)) : "";
    await openReview(s.id, words);
    if (vig.sw) vig.sw.activateWaiting();
  }

  /* The recorder ran but gave no video (it happens on some iPhones, and in browsers whose
   * recorder cannot make a video file). Say so plainly and point at the phone's own camera
   * app, which always works: its video is chosen and sent in the same way. */
  function filmingFailed() {
    say(el.note, t("Filming did not work on this phone, so nothing was saved. ") +
      t("Please film with your phone's camera app instead, with the button at the top."));
    el.fallback.classList.add("is-recommended");
    // The way that works comes first; filming here again stays possible, but not the big button.
    root.classList.add("filming-failed");
    el.start.disabled = !stream;
    el.fallback.scrollIntoView({ block: "nearest" });
  }

  // ---------------------------------------------------------------- watch it back
  function clearPlayback() {
    el.playback.removeAttribute("src");
    el.playback.load();
    if (reviewUrl) URL.revokeObjectURL(reviewUrl);
    reviewUrl = null;
  }

  /* MediaRecorder WebM has no duration in its header, so the player cannot seek until it has
   * looked at the end once. */
  function fixUnknownDuration() {
    if (el.playback.duration !== Infinity) return;
    const back = () => {
      el.playback.removeEventListener("timeupdate", back);
      el.playback.currentTime = 0;
    };
    el.playback.addEventListener("timeupdate", back);
    el.playback.currentTime = 1e101;
  }
  el.playback.addEventListener("loadedmetadata", fixUnknownDuration);

  async function openReview(id, message) {
    const rec = await vig.store.get(id);
    if (!rec || !rec.size || rec.state === "sent") {
      await showCamera();
      if (rec && rec.state === "sent") say(el.note, t("That video has already been sent."));
      return;
    }
    stopCamera();
    reviewId = id;
    show(el.camera, false);
    show(el.fallback, false);
    show(el.sending, false);
    show(el.review, true);
    show(el.discardConfirm, false);
    show(el.discard, true);
    el.send.disabled = false;
    clearPlayback();
    reviewUrl = URL.createObjectURL(await vig.store.blob(id));
    el.playback.src = reviewUrl;
    const parts = [];
    if (rec.durationMs) parts.push(vig.fmt.duration(rec.durationMs));
    parts.push(t("saved on this phone"));
    say(el.reviewMeta, parts.join(" · "));
    say(el.reviewNote, message || (rec.interrupted
      ? t("Filming was interrupted, but what you filmed was saved.")
      : ""));
    show(el.reviewNote, !!el.reviewNote.textContent);
    // Back to the top: filming may have scrolled the page, and Send must be in view at once.
    window.scrollTo(0, 0);
    el.reviewHeading.focus({ preventScroll: true });
  }

  const retry = document.getElementById("rec-retry");
  if (retry) retry.addEventListener("click", () => { if (canFilm) startCamera(); });

  async function showCamera() {
    reviewId = null;
    clearPlayback();
    show(el.review, false);
    show(el.sending, false);
    show(el.camera, true);
    show(el.fallback, true);
    if (canFilm) await startCamera();
    else cameraFailed(null);
  }

  el.send.addEventListener("click", async () => {
    const id = reviewId;
    if (!id || el.send.disabled) return;
    // The first tap wins; vig.uploader.start also refuses a second upload of the same id.
    el.send.disabled = true;
    await vig.store.update(id, { state: "queued", error: null });
    showSending(id);
    vig.uploader.start(id);
  });

  el.discard.addEventListener("click", () => {
    show(el.discard, false);
    show(el.discardConfirm, true);
    el.discardNo.focus();
  });
  el.discardNo.addEventListener("click", () => {
    show(el.discardConfirm, false);
    show(el.discard, true);
    el.discard.focus();
  });
  el.discardYes.addEventListener("click", async () => {
    const id = reviewId;
    el.discardYes.disabled = true;
    clearPlayback();
    if (id) await vig.store.remove(id);
    el.discardYes.disabled = false;
    await showCamera();
    say(el.note, t("Deleted. Nothing was sent."));
  });

  // ---------------------------------------------------------------- sending
  async function refreshSending() {
    if (!sendingId) return;
    const rec = await vig.store.get(sendingId);
    const words = vig.describeRecording(rec, null);
    say(el.sendingState, words.done ? words.text.replace(/^Sent\. /, "") : words.text);
    const pct = words.done ? 100 : vig.uploader.percent(rec);
    el.sendingProgress.value = pct;
    el.sendingProgress.textContent = pct + " %";
    root.classList.toggle("is-sent", !!words.done);
    say(el.sendingHeading, words.done ? t("Sent. Thank you!") : "Sending your video");
  }

  function showSending(id) {
    sendingId = id;
    clearPlayback();
    show(el.review, false);
    show(el.sending, true);
    refreshSending();
    el.sendingHeading.focus();
  }
  window.addEventListener("vig:recordings", refreshSending);
  window.addEventListener("vig:upload-progress", (e) => {
    if (e.detail && e.detail.id === sendingId) refreshSending();
  });
  window.addEventListener("online", refreshSending);
  window.addEventListener("offline", refreshSending);

  // ---------------------------------------------------------------- fallbacks: chosen files
  async function importFile(input) {
    const file = input.files && input.files[0];
    if (!file || importing) return;
    input.value = "";
    if (file.type && !file.type.startsWith("video/")) {
      say(el.fileStatus, t("That is not a video. Please choose a video."));
      return;
    }
    if (file.size > vig.config.maxBytes) {
      say(el.fileStatus, t("That video is too big to send. Please choose one of 10 minutes or less."));
      return;
    }
    const free = await vig.storageSpace.free();
    if (free !== null && free < file.size + 20e6) {
      say(el.fileStatus, t("Your phone is too full to keep a copy of this video. Free up some space, then try again."));
      return;
    }
    vig.storageSpace.persist();
    const id = vig.newId();
    importing = id;
    /** @type {(value?: unknown) => void} */
    let copied;
    holdRecordingLock(id, new Promise((resolve) => { copied = resolve; }));
    try {
      await vig.store.create({
        id: id, mimeType: file.type || "video/mp4", state: "copying", source: "file",
        recordedAt: file.lastModified || Date.now(),
      });
      // Copied into IndexedDB first, like a recording: the picked file may not be readable
      // later (the browser forgets it when the page closes).
      for (let offset = 0, seq = 0; offset < file.size; offset += FILE_CHUNK, seq++) {
        const buffer = await vig.readBlob(file.slice(offset, offset + FILE_CHUNK));
        await vig.store.appendChunk(id, seq, buffer);
        say(el.fileStatus, t("Saving a copy on this phone… ") + Math.floor((100 * (offset + buffer.byteLength)) / file.size) + " %");
      }
      await vig.store.update(id, { state: "review" });
      importing = null;
      copied();
      say(el.fileStatus, "");
      await openReview(id, "");
    } catch (err) {
      vig.reportError("storage_failed", err);
      importing = null;
      copied();
      await vig.store.remove(id).catch(() => {});
      say(el.fileStatus, err instanceof vig.StorageFullError
        ? t("Your phone is full, so the video could not be saved here. Free up some space, then try again.")
        : t("That video could not be saved on this phone. Please try again."));
    }
  }
  el.fileCamera.addEventListener("change", () => importFile(el.fileCamera));
  el.filePick.addEventListener("change", () => importFile(el.filePick));

  // ---------------------------------------------------------------- start
  el.start.addEventListener("click", startFilming);
  el.stop.addEventListener("click", () => stopFilming("button"));
  el.switchCam.addEventListener("click", () => {
    if (session) return;
    facing = facing === "user" ? "environment" : "user";
    startCamera();
  });
  document.addEventListener("visibilitychange", () => {
    // Timers sleep while the screen is off; catch up (and stop at 10 minutes) on return.
    if (document.visibilityState === "visible") tick();
  });

  vig.storageSpace.free().then((free) => {
    if (free === null || free >= LOW_BYTES) return;
    say(el.space, t("Your phone is nearly full (about %(free)s free). 10 minutes of video needs about 75 MB. Free up some space before you film.", { free: vig.fmt.mb(free) }));
    show(el.space, true);
  });

  const wanted = new URLSearchParams(location.search).get("review");
  if (root.dataset.onRequest !== undefined) {
    /* Live review (live-parent.js): the camera turns on only while the practitioner's request
     * is shown, and nothing is filmed until the parent taps Start filming. */
    vig.recorder = {
      open: () => { if (reviewId) return Promise.resolve(); sendingId = null; return showCamera(); },
      close: () => { if (!session) stopCamera(); },
      filming: () => !!session,
    };
  } else if (wanted) openReview(wanted, "");
  else showCamera();
  if (!canFilm) {
    el.start.disabled = true;
  }
})();

// @ts-check
/* Sends recordings from IndexedDB to the server with tus-js-client (window.tus), following
 * docs/upload-contract.md.
 *
 * - The recording's own id is the tus fingerprint, and the upload URL lives in the same
 *   IndexedDB record (custom urlStorage): a recorded Blob has no name or date, so tus's
 *   default fingerprint would let two recordings of the same size collide.
 * - Bytes are read straight from the chunk store, one PATCH's worth at a time, so a 1 GB
 *   film never has to fit in memory. Each PATCH carries Upload-Checksum (sha1): a chunk
 *   damaged on a flaky connection is refused (460) and sent again, never stored.
 * - One upload per recording at a time: a Map in this page (a double tap returns the same
 *   promise), a Web Lock across tabs where the browser has them, and the server's idempotent
 *   creation by client_id behind both.
 * - The local copy is deleted only when the status API says the server holds the complete
 *   file ("safe") with the same sha256 as ours. Until then the video stays listed.
 * - Resumes on page load, on `online`, on the service worker's Background Sync message,
 *   and every minute while a page is open.
 * Its decisions (what to retry, what a failure means, what to tidy) are upload-rules.js.
 *
 * @requires js/common.js js/vig-store.js js/sha256.js js/container.js js/upload-rules.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  const cfg = vig.config;
  const rules = vig.uploadRules;
  const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 60000];
  const PERIODIC_MS = 60 * 1000;

  const running = new Map(); // recording id -> {promise, upload, stopped}
  const progress = new Map(); // recording id -> fraction sent, live in this page

  /* The phone could not read back its own copy: retrying the network will not help. */
  class LocalReadError extends Error {}

  function isLocalReadError(err) {
    return err instanceof LocalReadError || (err && err.causingError instanceof LocalReadError);
  }

  function idOf(fingerprint) {
    return String(fingerprint).replace(/^vig-/, "");
  }

  // tus-js-client's URL storage, kept inside the recording's own record.
  const urlStorage = {
    async findAllUploads() {
      return (await vig.store.all()).filter((r) => r.uploadUrl).map((r) => ({
        uploadUrl: r.uploadUrl, urlStorageKey: "vig-" + r.id, size: r.size,
      }));
    },
    async findUploadsByFingerprint(fingerprint) {
      const rec = await vig.store.get(idOf(fingerprint));
      return rec && rec.uploadUrl ? [{ uploadUrl: rec.uploadUrl, urlStorageKey: fingerprint, size: rec.size }] : [];
    },
    async removeUpload(key) {
      await vig.store.update(idOf(key), { uploadUrl: null });
    },
    async addUpload(fingerprint, upload) {
      await vig.store.update(idOf(fingerprint), { uploadUrl: upload.uploadUrl });
      return fingerprint;
    },
  };

  /* A tus "source" over the chunk store: slice() reads only the chunks it needs. */
  class ChunkStoreSource {
    constructor(rec) {
      this.id = rec.id;
      this.type = rec.mimeType;
      this.size = rec.size;
      this.starts = [];
      let at = 0;
      for (const n of rec.chunkSizes) { this.starts.push(at); at += n; }
      this.sizes = rec.chunkSizes;
    }

    indexOf(offset) {
      let lo = 0, hi = this.starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.starts[mid] <= offset) lo = mid; else hi = mid - 1;
      }
      return lo;
    }

    async slice(start, end) {
      end = Math.min(end, this.size);
      if (start >= end) return { value: new Blob([], { type: this.type }), done: true };
      const first = this.indexOf(start);
      const last = this.indexOf(end - 1);
      const buffers = await vig.store.readChunks(this.id, first, last);
      if (buffers.length !== last - first + 1) throw new LocalReadError("a stored piece is missing");
      const parts = buffers.map((buf, k) => {
        const base = this.starts[first + k];
        const from = Math.max(start - base, 0);
        const to = Math.min(end - base, buf.byteLength);
        return new Uint8Array(buf, from, to - from);
      });
      return { value: new Blob(parts, { type: this.type }), done: end >= this.size };
    }

    close() {}
  }
  const chunkStoreReader = { openFile: (rec) => Promise.resolve(new ChunkStoreSource(rec)) };

  function base64(buffer) {
    let s = "";
    new Uint8Array(buffer).forEach((b) => { s += String.fromCharCode(b); });
    return btoa(s);
  }

  /* tus's XHR stack plus an Upload-Checksum header on every PATCH (tus checksum extension). */
  class ChecksumRequest {
    constructor(inner) { this.inner = inner; }
    getMethod() { return this.inner.getMethod(); }
    getURL() { return this.inner.getURL(); }
    setHeader(name, value) { this.inner.setHeader(name, value); }
    getHeader(name) { return this.inner.getHeader(name); }
    setProgressHandler(handler) { this.inner.setProgressHandler(handler); }
    abort() { return this.inner.abort(); }
    getUnderlyingObject() { return this.inner.getUnderlyingObject(); }
    async send(body) {
      if (body && this.inner.getMethod() === "PATCH" && window.crypto && crypto.subtle) {
        const digest = await crypto.subtle.digest("SHA-1", await vig.readBlob(body));
        this.inner.setHeader("Upload-Checksum", "sha1 " + base64(digest));
      }
      return this.inner.send(body);
    }
  }
  /* tus-js-client is most of the parent's script weight and only needed while a video is
   * sending, so it is fetched then (templates name its fingerprinted URL), not on every page. */
  let tusLoading = null;
  let tusRetries = 0;
  function loadTus() {
    if (window.tus) return Promise.resolve();
    if (!tusLoading) {
      tusLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = cfg.tusUrl;
        script.onload = () => (window.tus ? resolve() : reject(new Error("tus did not load")));
        script.onerror = () => {
          tusLoading = null;
          script.remove();
          reject(new Error("tus did not load"));
        };
        document.head.appendChild(script);
      });
    }
    return tusLoading;
  }

  function checksumStack() {
    const inner = new window.tus.DefaultHttpStack();
    return {
      createRequest: (method, url) => new ChecksumRequest(inner.createRequest(method, url)),
      getName: () => "VigChecksumHttpStack",
    };
  }

  const describe = rules.describe;

  /* The percent sent, as every screen shows it (rules.percent), remembered for this tab. */
  function percentSent(rec) {
    if (!rec) return 0;
    const key = "vig.sent." + rec.id;
    let shown = 0;
    try { shown = Number(sessionStorage.getItem(key)) || 0; } catch { /* no storage */ }
    const pct = rules.percent(rec, progress.get(rec.id), shown);
    try { sessionStorage.setItem(key, String(pct)); } catch { /* this page's own figure */ }
    return pct;
  }

  function emitProgress(id) {
    window.dispatchEvent(new CustomEvent("vig:upload-progress", { detail: { id: id } }));
  }

  function sendBytes(rec, entry) {
    return new Promise((resolve, reject) => {
      let lastSaved = 0;
      const upload = new window.tus.Upload(rec, {
        endpoint: cfg.uploadEndpoint,
        fingerprint: () => Promise.resolve("vig-" + rec.id),
        urlStorage: urlStorage,
        fileReader: chunkStoreReader,
        httpStack: checksumStack(),
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: false,
        chunkSize: cfg.chunkBytes,
        parallelUploads: 1,
        retryDelays: RETRY_DELAYS,
        metadata: {
          client_id: rec.clientId || rec.id,
          filetype: rec.mimeType || "video/webm",
          recorded_at: new Date(rec.recordedAt || rec.createdAt).toISOString(),
        },
        headers: { "X-CSRFToken": vig.csrfToken() },
        onShouldRetry(err) {
          return !isLocalReadError(err) && rules.shouldRetry(describe(err), navigator.onLine !== false);
        },
        onProgress(sent, total) {
          progress.set(rec.id, total ? sent / total : 0);
          emitProgress(rec.id);
        },
        onChunkComplete(_size, accepted) {
          // Saved now and then so a reopened page shows how far it got.
          if (accepted - lastSaved >= cfg.chunkBytes || accepted === rec.size) {
            lastSaved = accepted;
            vig.store.update(rec.id, { sent: accepted }).catch((e) => vig.reportError("storage_failed", e));
          }
        },
        onSuccess: () => resolve(),
        onError: (err) => reject(err),
      });
      entry.upload = upload;
      upload.findPreviousUploads().then((previous) => {
        if (entry.stopped) return;
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      }, reject);
    });
  }

  async function refreshCsrfToken() {
    const response = await fetch(cfg.pendingUrl, { credentials: "same-origin", cache: "no-store" });
    const match = /<meta name="csrf-token" content="([^"]+)"/.exec(await response.text());
    const tag = document.querySelector('meta[name="csrf-token"]');
    if (match && tag) tag.setAttribute("content", match[1]);
  }

  /* tus with the contract's one-off recoveries: a forgotten/expired upload starts again under
   * the same client_id (still one recording); a stale CSRF token is refreshed once. */
  async function sendWithRecovery(id, entry) {
    for (let attempt = 0; ; attempt++) {
      const rec = await vig.store.get(id);
      try {
        return await sendBytes(rec, entry);
      } catch (err) {
        if (entry.stopped || attempt >= 2) throw err;
        const step = rules.recovery(describe(err));
        if (step === "restart") {
          await vig.store.update(id, { uploadUrl: null });
        } else if (step === "refresh-csrf") {
          await refreshCsrfToken();
        } else {
          throw err;
        }
      }
    }
  }

  async function fetchStatus(rec) {
    const url = cfg.statusUrl + "?client_id=" + encodeURIComponent(rec.clientId || rec.id);
    const response = await fetch(url, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
    });
    let body;
    try { body = await response.json(); } catch { body = {}; }
    if (!response.ok) {
      throw Object.assign(new Error("status " + response.status), { status: response.status, body: body });
    }
    return body;
  }

  /* "sent" | "rejected" | "mismatch" | "incomplete" */
  async function verify(rec) {
    let status;
    try {
      status = await fetchStatus(rec);
    } catch (err) {
      if (err.status === 404) {
        // The server has never heard of it: send it again from the start.
        await vig.store.update(rec.id, { uploadUrl: null });
        return "incomplete";
      }
      throw err;
    }
    const verdict = rules.verdict(status, rec);
    if (verdict === "rejected") {
      await vig.store.update(rec.id, { state: "rejected", error: status.reason || status.message || "" });
    } else if (verdict === "sent") {
      await vig.store.deleteChunks(rec.id);
      await vig.store.update(rec.id, {
        state: "sent", sentAt: Date.now(), serverStatus: status.status, chunkSizes: [],
        error: null, blocked: false, uploadUrl: null,
      });
    } else if (verdict === "mismatch") {
      await vig.store.update(rec.id, {
        state: "problem", mismatch: true, blocked: true, serverSha256: status.sha256 || null,
        error: rules.WORDS.mismatch,
      });
    }
    return verdict;
  }

  function registerBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((reg) => reg.sync && reg.sync.register("vig-upload"))
      .catch(() => {});
  }

  async function handleFailure(id, err) {
    const rec = await vig.store.get(id);
    if (!rec) return;
    const step = rules.afterFailure(describe(err), {
      localRead: isLocalReadError(err), online: navigator.onLine !== false, state: rec.state,
    });
    if (step.wipe) {
      await vig.localRecordings.wipeAll();
      window.dispatchEvent(new CustomEvent("vig:notice", { detail: { message: step.notice } }));
      return;
    }
    if (step.verifyFirst) {
      try { await verify(rec); } catch (e) { vig.reportError("upload_failed", e); }
      const after = await vig.store.get(id);
      if (after && after.state === "rejected") return;
    }
    await vig.store.update(id, step.patch);
    if (step.sync) registerBackgroundSync();
  }

  async function run(id, entry) {
    let rec = await vig.store.get(id);
    if (!rec || !rules.SENDABLE.has(rec.state)) return;
    if (navigator.onLine === false) {
      if (rec.state !== "verifying") await vig.store.update(id, { state: "queued", error: null });
      registerBackgroundSync();
      return;
    }
    if (!rec.sha256) {
      // Hashing needs no signal, so it is done first, even while the phone waits for one.
      try {
        rec = await vig.store.update(id, { sha256: await vig.hashRecording(rec) });
      } catch (err) {
        vig.reportError("upload_failed", err);
        await handleFailure(id, new LocalReadError(String(err)));
        return;
      }
    }
    if (rec.state !== "verifying") {
      try {
        await loadTus();
      } catch {
        // No signal after all, or the signal is only just back (a service worker can lag
        // behind the page): it waits, and is tried again soon, then every minute.
        await vig.store.update(id, { state: "queued", error: null });
        if (tusRetries < RETRY_DELAYS.length - 1) {
          tusRetries += 1;
          setTimeout(() => startAll("retry"), RETRY_DELAYS[tusRetries]);
        }
        return;
      }
      tusRetries = 0;
    }
    const wake = "upload:" + id;
    vig.wakeLock.hold(wake);
    try {
      for (let round = 0; round < 3 && !entry.stopped; round++) {
        if (rec.state !== "verifying") {
          await vig.store.update(id, { state: "uploading", error: null });
          await sendWithRecovery(id, entry);
          if (entry.stopped) return;
          rec = await vig.store.update(id, { state: "verifying", sent: rec.size });
        }
        if ((await verify(rec)) !== "incomplete") return;
        rec = await vig.store.update(id, { state: "uploading" });
      }
    } catch (err) {
      if (!entry.stopped) vig.reportError("upload_failed", err);
      if (!entry.stopped) await handleFailure(id, err);
    } finally {
      vig.wakeLock.release(wake);
      progress.delete(id);
      emitProgress(id);
    }
  }

  /* Start (or join) the upload of one recording. Safe to call any number of times. */
  function start(id) {
    const existing = running.get(id);
    if (existing) return existing.promise;
    const entry = { upload: null, stopped: false, promise: null };
    running.set(id, entry);
    const go = () => run(id, entry);
    const locked = navigator.locks
      ? navigator.locks.request("vig-upload-" + id, { ifAvailable: true }, (lock) => (lock ? go() : null))
      : go();
    entry.promise = Promise.resolve(locked)
      .catch((e) => vig.reportError("upload_failed", e))
      .finally(() => { running.delete(id); });
    return entry.promise;
  }

  /* Tidy up records whose page died, then start everything that is waiting.
   * `why`: "load" and "manual" also retry problems that need the parent (signed out, ...). */
  async function startAll(why) {
    let list;
    try { list = await vig.store.all(); } catch (e) { vig.reportError("storage_failed", e); return; }
    const now = Date.now();
    let held = null;
    if (navigator.locks && navigator.locks.query) {
      try {
        const state = await navigator.locks.query();
        held = new Set([].concat(state.held || [], state.pending || []).map((l) => l.name));
      } catch { held = null; }
    }
    for (const rec of list) {
      const busy = !!(vig.recorderBusy && vig.recorderBusy(rec.id));
      const orphaned = rules.isOrphaned(rec, { held: held, now: now, busy: busy });
      const step = rules.tidy(rec, { orphaned: orphaned, now: now });
      if (step === "cut-back") {
        // The page closed while filming: what reached the phone is kept for the parent to
        // check, cut back to its last whole piece (container.js).
        let whole = rec;
        try { whole = (await vig.makeWhole(rec.id)) || rec; } catch (e) { vig.reportError("storage_failed", e); }
        await vig.store.update(rec.id, rules.afterCutBack(whole));
      } else if (step === "broken") {
        await vig.store.update(rec.id, { state: "broken" });
      } else if (step === "forget") {
        await vig.store.remove(rec.id);
      }
    }
    for (const rec of list) {
      if (rules.shouldStart(rec, why)) start(rec.id);
    }
  }

  /* "Send again" after the server's copy did not match: a new client_id, so a new upload. */
  async function sendAgain(id) {
    await vig.store.update(id, {
      clientId: vig.newId(), uploadUrl: null, state: "queued", mismatch: false, blocked: false, error: null,
    });
    return start(id);
  }

  function stop(id) {
    const entry = running.get(id);
    if (!entry) return;
    entry.stopped = true;
    if (entry.upload) entry.upload.abort(false);
  }

  function stopAll() {
    Array.from(running.keys()).forEach(stop);
  }

  vig.uploader = {
    start: start,
    startAll: startAll,
    sendAgain: sendAgain,
    stop: stop,
    stopAll: stopAll,
    isRunning: (id) => running.has(id),
    percent: percentSent,
  };

  if (!window.idb) return;
  window.addEventListener("online", () => startAll("online"));
  setInterval(() => startAll("timer"), PERIODIC_MS);
  startAll("load");
})();

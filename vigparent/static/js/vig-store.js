// @ts-check
/* The phone's own copy of every recording, in IndexedDB (through idb's UMD build, window.idb).
 *
 * Two object stores (the schema's versions are the steps in SCHEMA below):
 * - "recordings": one small record per video, keyed by its id (crypto.randomUUID()):
 *   {id, createdAt, mimeType, size, state, uploadUrl, error, sha256, chunkSizes, ...},
 *   listed newest first through its "createdAt" index (version 2)
 * - "chunks": the bytes, as ArrayBuffers (Safari fails intermittently with Blobs), keyed
 *   [recordingId, seq]. The recorder writes one chunk per second while filming, so a crash
 *   or a closed tab costs seconds, not the recording.
 *
 * Also here, because every parent page needs them: the page config (vig.config), the shared
 * Screen Wake Lock (vig.wakeLock), small formatters (vig.fmt) and vig.localRecordings, the
 * API the withdrawal feature uses to empty the phone.
 *
 * @requires idb/build/umd.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});

  // ---- config from <meta name="vig-capture" data-...> (templates/capture/_parent_head.html)
  const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="vig-capture"]'));
  const data = meta ? meta.dataset : {};
  vig.config = {
    uploadEndpoint: data.uploadEndpoint || "/api/uploads",
    statusUrl: data.statusUrl || "/api/uploads/status",
    chunkBytes: Number(data.chunkBytes) || 5 * 1024 * 1024,
    maxBytes: Number(data.maxBytes) || 2 * 1024 * 1024 * 1024,
    recordUrl: data.recordUrl || "/film/",
    pendingUrl: data.pendingUrl || "/film/videos",
    swUrl: data.swUrl || "",
    tusUrl: data.tusUrl || "",
  };

  // ---- IndexedDB
  const DB_NAME = "vig-local";
  /* One step per version: SCHEMA[n] upgrades a database at version n to n + 1. A phone can skip
   * versions of the app (not opened for months), so upgrade() runs every step from the version
   * it finds, never one that already ran ("store already exists"). Never change a released
   * step; add one, and only add: a page of an older version may still be open (openDb).
   * tests/browser/test_local_upgrade.py opens a version-1 database. */
  const SCHEMA = [
    // 1: a small record per video, and its bytes in chunks.
    (db) => {
      db.createObjectStore("recordings", { keyPath: "id" });
      db.createObjectStore("chunks", { keyPath: ["recordingId", "seq"] });
    },
    // 2: the list comes newest first from an index. A record without a date would be missing
    // from the index, so from the list: every record has one (create() makes sure of it).
    (db, tx) => {
      const recordings = tx.objectStore("recordings");
      recordings.openCursor().then(function dated(cursor) {
        if (!cursor) return;
        if (typeof cursor.value.createdAt !== "number") {
          cursor.update(Object.assign({}, cursor.value, { createdAt: cursor.value.updatedAt || 0 }));
        }
        return cursor.continue().then(dated);
      });
      recordings.createIndex("createdAt", "createdAt");
    },
  ];
  const DB_VERSION = SCHEMA.length;
  const RETRY_DELAYS = [100, 400, 1200];
  let dbPromise = null;

  class StorageFullError extends Error {
    constructor() {
      super("storage full");
      this.name = "StorageFullError";
    }
  }
  vig.StorageFullError = StorageFullError;

  function openDb() {
    if (!window.idb) return Promise.reject(new Error("IndexedDB helper missing"));
    if (!dbPromise) {
      const events = {
        upgrade(db, oldVersion, _newVersion, tx) {
          for (let version = oldVersion; version < DB_VERSION; version++) SCHEMA[version](db, tx);
        },
        blocking() {
          // A newer version of the app in another tab wants to upgrade: let it.
          const p = dbPromise;
          dbPromise = null;
          if (p) p.then((db) => db.close());
        },
        terminated() { dbPromise = null; },
      };
      dbPromise = window.idb.openDB(DB_NAME, DB_VERSION, events).catch((err) => {
        // A newer version of the app (another tab) has upgraded it: its steps only add, so
        // open it as it is, and this page carries on until it loads the new version.
        if (err && err.name === "VersionError") return window.idb.openDB(DB_NAME, undefined, events);
        throw err;
      });
      dbPromise.catch(() => { dbPromise = null; });
    }
    return dbPromise;
  }

  /* Every transaction still running, so a page put away can end them (below). */
  const running = new Set();
  function tracked(tx) {
    running.add(tx);
    tx.done.catch(() => {}).finally(() => running.delete(tx));
    return tx;
  }

  async function readTx(storeName) {
    return tracked((await openDb()).transaction(storeName));
  }

  /* A page kept in the back-forward cache (Safari keeps most pages there when you leave them)
    is frozen with whatever it was doing, and a frozen transaction holds up every other page's
    store: "My videos" would never open. So a page being put away ends its transactions (a
    write ended so is tried again if the page is ever shown again, see withRetry) and closes
    its connection; the next use opens a new one. */
  window.addEventListener("pagehide", (event) => {
    if (!event.persisted) return;
    for (const tx of running) {
      try { tx.abort(); } catch { /* it had just finished */ }
    }
    running.clear();
    const p = dbPromise;
    dbPromise = null;
    if (p) p.then((db) => db.close(), () => {});
  });

  function isQuotaError(err, tx) {
    const names = [err && err.name, tx && tx.error && tx.error.name];
    return names.includes("QuotaExceededError");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /* Run a write, retrying transient failures (Safari drops IndexedDB writes now and then);
   * a full phone is not transient: it becomes StorageFullError at once. */
  async function withRetry(write) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (err instanceof StorageFullError) throw err;
        if (attempt >= RETRY_DELAYS.length) throw err;
        await sleep(RETRY_DELAYS[attempt]);
      }
    }
  }

  async function writeTx(storeNames, body) {
    const tx = tracked((await openDb()).transaction(storeNames, "readwrite"));
    try {
      const result = await body(tx);
      await tx.done;
      return result;
    } catch (err) {
      try { tx.abort(); } catch { /* already finished */ }
      await tx.done.catch(() => {});
      if (isQuotaError(err, tx)) throw new StorageFullError();
      throw err;
    }
  }

  function chunkRange(id, from, to) {
    return IDBKeyRange.bound([id, from === undefined ? 0 : from], [id, to === undefined ? Infinity : to]);
  }

  // ---- change notifications (this page and other tabs)
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("vig-recordings") : null;
  function notify(id, local) {
    window.dispatchEvent(new CustomEvent("vig:recordings", { detail: { id: id } }));
    if (channel && !local) channel.postMessage({ id: id });
  }
  if (channel) channel.onmessage = (e) => notify(e.data && e.data.id, true);

  const store = {
    async create(record) {
      const rec = Object.assign({
        createdAt: Date.now(), mimeType: "", size: 0, chunkSizes: [], state: "recording",
        uploadUrl: null, error: null, sha256: null, sent: 0,
      }, record);
      if (typeof rec.createdAt !== "number") rec.createdAt = Date.now(); // listed by it
      await withRetry(() => writeTx(["recordings"], (tx) => tx.objectStore("recordings").add(rec)));
      notify(rec.id);
      return rec;
    },

    async get(id) {
      return (await readTx("recordings")).store.get(id);
    },

    /* Every recording, newest first. */
    async all() {
      return (await (await readTx("recordings")).store.index("createdAt").getAll()).reverse();
    },

    /* Merge `patch` (or the result of patch(record)) into a record; returns the new record. */
    async update(id, patch) {
      const rec = await withRetry(() => writeTx(["recordings"], async (tx) => {
        const recs = tx.objectStore("recordings");
        const current = await recs.get(id);
        if (!current) return null;
        const changes = typeof patch === "function" ? patch(current) : patch;
        if (!changes) return current;
        const next = Object.assign({}, current, changes, { updatedAt: Date.now() });
        await recs.put(next);
        return next;
      }));
      if (rec) notify(id);
      return rec;
    },

    /* Store chunk `seq` and the record's size together, so they can never disagree. */
    async appendChunk(id, seq, buffer) {
      const rec = await withRetry(() => writeTx(["recordings", "chunks"], async (tx) => {
        const recs = tx.objectStore("recordings");
        const current = await recs.get(id);
        if (!current) throw new Error("recording deleted");
        await tx.objectStore("chunks").put({ recordingId: id, seq: seq, data: buffer });
        const sizes = current.chunkSizes.slice();
        sizes[seq] = buffer.byteLength;
        current.chunkSizes = sizes;
        current.size = sizes.reduce((sum, n) => sum + (n || 0), 0);
        current.updatedAt = Date.now();
        await recs.put(current);
        return current;
      }));
      notify(id);
      return rec;
    },

    async readChunks(id, from, to) {
      const rows = await (await readTx("chunks")).store.getAll(chunkRange(id, from, to));
      return rows.map((row) => row.data);
    },

    /* Call fn(ArrayBuffer) for each chunk in order, holding one chunk in memory at a time. */
    async forEachChunk(id, count, fn) {
      for (let seq = 0; seq < count; seq++) {
        const row = await (await readTx("chunks")).store.get([id, seq]);
        if (!row) throw new Error("missing chunk " + seq);
        await fn(row.data);
      }
    },

    async blob(id) {
      const rec = await store.get(id);
      const parts = await store.readChunks(id);
      return new Blob(parts, { type: (rec && rec.mimeType) || "video/webm" });
    },

    /* Keep only the first `length` bytes (container.js: cutting back to whole elements). */
    async truncate(id, length) {
      const rec = await withRetry(() => writeTx(["recordings", "chunks"], async (tx) => {
        const recs = tx.objectStore("recordings");
        const chunks = tx.objectStore("chunks");
        const current = await recs.get(id);
        if (!current) return null;
        const sizes = [];
        let at = 0;
        for (let seq = 0; seq < current.chunkSizes.length; seq++) {
          const n = current.chunkSizes[seq];
          if (at >= length) {
            await chunks.delete([id, seq]);
          } else if (at + n > length) {
            const row = await chunks.get([id, seq]);
            await chunks.put({ recordingId: id, seq: seq, data: row.data.slice(0, length - at) });
            sizes.push(length - at);
          } else {
            sizes.push(n);
          }
          at += n;
        }
        current.chunkSizes = sizes;
        current.size = sizes.reduce((sum, n) => sum + n, 0);
        current.sha256 = null;
        current.updatedAt = Date.now();
        await recs.put(current);
        return current;
      }));
      notify(id);
      return rec;
    },

    async deleteChunks(id) {
      await withRetry(() => writeTx(["chunks"], (tx) => tx.objectStore("chunks").delete(chunkRange(id))));
    },

    async remove(id) {
      await withRetry(() => writeTx(["recordings", "chunks"], async (tx) => {
        await tx.objectStore("chunks").delete(chunkRange(id));
        await tx.objectStore("recordings").delete(id);
      }));
      notify(id);
    },

    async wipe() {
      const counts = await writeTx(["recordings", "chunks"], async (tx) => {
        // Only videos still waiting count: a sent one leaves a small note, not a video.
        const all = await tx.objectStore("recordings").getAll();
        const recordings = all.filter((r) => r.state !== "sent").length;
        const chunks = await tx.objectStore("chunks").count();
        await tx.objectStore("recordings").clear();
        await tx.objectStore("chunks").clear();
        return { recordings: recordings, chunks: chunks };
      });
      notify(null);
      return counts;
    },
  };
  vig.store = store;

  vig.newId = function () {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  };

  vig.readBlob = function (blob) {
    // Blob.arrayBuffer() is missing on older iPhones.
    return blob.arrayBuffer ? blob.arrayBuffer() : new Response(blob).arrayBuffer();
  };

  // ---- storage space
  vig.storageSpace = {
    /* Free bytes the browser lets us use, or null when the phone won't say. */
    async free() {
      if (!navigator.storage || !navigator.storage.estimate) return null;
      try {
        const e = await navigator.storage.estimate();
        if (!e.quota) return null;
        return Math.max(0, e.quota - (e.usage || 0));
      } catch {
        return null;
      }
    },
    /* Whether the browser has promised to keep our storage (false where it cannot say). It
     * never asks the parent anything, unlike persist() (Firefox shows a question). */
    async persisted() {
      if (!navigator.storage || !navigator.storage.persisted) return false;
      try {
        return await navigator.storage.persisted();
      } catch {
        return false;
      }
    },
    /* Ask the browser not to clear our storage when the phone runs low (asked once a page). */
    async persist() {
      if (!navigator.storage || !navigator.storage.persist) return false;
      try {
        if (await navigator.storage.persisted()) return true;
        return await navigator.storage.persist();
      } catch {
        return false;
      }
    },
  };

  // ---- Screen Wake Lock, shared by the recorder and the uploader
  const holders = new Set();
  let sentinel = null;
  let requesting = null;
  /* Resolves to whether the screen is now kept on. Older iPhones (before iOS 16.4) have no
   * Wake Lock, and low power mode refuses it: the recorder then tells the parent. */
  function acquire() {
    if (!("wakeLock" in navigator) || !holders.size) return Promise.resolve(false);
    if (sentinel) return Promise.resolve(true);
    if (document.visibilityState !== "visible") return Promise.resolve(false);
    if (!requesting) {
      requesting = (async () => {
        try {
          sentinel = await navigator.wakeLock.request("screen");
          sentinel.addEventListener("release", () => { sentinel = null; });
          if (!holders.size) { sentinel.release(); sentinel = null; }
        } catch {
          sentinel = null; // low battery mode etc.: carry on without it
        } finally {
          requesting = null;
        }
        return sentinel !== null;
      })();
    }
    return requesting;
  }
  // The browser drops the lock whenever the page is hidden; take it again on return.
  document.addEventListener("visibilitychange", acquire);
  vig.wakeLock = {
    /* Resolves to whether the screen is kept on. */
    hold(reason) { holders.add(reason); return acquire(); },
    release(reason) {
      holders.delete(reason);
      if (!holders.size && sentinel) { sentinel.release(); sentinel = null; }
    },
    get held() { return sentinel !== null; },
  };

  // ---- words and numbers a parent reads
  // The same words as the server's say_when (families/service.py): "Monday 30 November at 2:33pm"
  // in English; in another language its own day and month names and the 24-hour clock.
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  const lang = (document.documentElement && document.documentElement.lang) || "en-GB";
  const english = lang === "en-GB";
  const day = new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long" });
  const clock24 = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const oneDecimal = (n) => (english ? n.toFixed(1) : n.toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
  const sayTime = (d) => {
    if (!english) return clock24.format(d);
    const hour = d.getHours() % 12 || 12;
    const suffix = d.getHours() < 12 ? "am" : "pm";
    return d.getMinutes() ? hour + ":" + String(d.getMinutes()).padStart(2, "0") + suffix : hour + suffix;
  };
  vig.fmt = {
    mb(bytes) {
      const mb = (bytes || 0) / 1e6;
      if (mb >= 100) return Math.round(mb) + " MB";
      return oneDecimal(mb < 0.1 && mb > 0 ? 0.1 : mb) + " MB";
    },
    clock(seconds) {
      const s = Math.max(0, Math.floor(seconds));
      return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    },
    duration(ms) {
      const s = Math.round((ms || 0) / 1000);
      const seconds = (n) => (n === 1 ? t("1 second") : t("%(count)s seconds", { count: n }));
      const minutes = (n) => (n === 1 ? t("1 minute") : t("%(count)s minutes", { count: n }));
      if (s < 60) return seconds(s);
      return minutes(Math.floor(s / 60)) + (s % 60 ? " " + seconds(s % 60) : "");
    },
    when(ts) {
      const d = new Date(ts);
      const today = new Date();
      const yesterday = new Date(Date.now() - 864e5);
      const time = sayTime(d);
      if (d.toDateString() === today.toDateString()) return t("today at %(time)s", { time: time });
      if (d.toDateString() === yesterday.toDateString()) return t("yesterday at %(time)s", { time: time });
      return t("%(date)s at %(time)s", { date: day.format(d).replace(",", ""), time: time });
    },
  };

  /* For the withdrawal feature (DESIGN.md §7): after consent is withdrawn, empty the phone.
   * vig.localRecordings.wipeAll() stops every upload, deletes every recording record and
   * chunk from IndexedDB and deletes this app's caches (pages that could show personal
   * details; media is never cached). Resolves to {recordings, chunks, caches}. */
  vig.localRecordings = {
    async wipeAll() {
      if (vig.uploader) vig.uploader.stopAll();
      if (vig.forgetWaitingReports) vig.forgetWaitingReports();
      const counts = await store.wipe();
      let cacheCount = 0;
      if (window.caches) {
        const names = (await caches.keys()).filter((n) => n.startsWith("vig-"));
        await Promise.all(names.map((n) => caches.delete(n)));
        cacheCount = names.length;
      }
      return Object.assign(counts, { caches: cacheCount });
    },
  };
})();

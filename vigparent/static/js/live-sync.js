// @ts-check
/* Live review, on both screens: the server's clock, where the clip should be now, what a
 * following phone does to stay in step, and listening to the room (Server-Sent Events).
 *
 * Each command carries the clip time and the server's time it was taken. A follower works
 * out where the clip should be now (plus the time since, if playing) and corrects itself:
 * a seek when it is more than SEEK_OVER seconds off, a slightly faster or slower playback
 * rate when it is a little off, nothing when it is close. When paused, it shows exactly the
 * commanded time, so both screens show the same frame.
 *
 * @requires js/common.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});

  const SEEK_OVER = 0.25;
  const NUDGE_OVER = 0.04;
  // Nothing at all (not even a keep-alive, sent every 15 s) for this long: the stream is dead.
  const SILENT_MS = 40000;

  /* The server's clock as seen from this page. Every message says the server's time when it
   * was sent; it arrives a little later, so (server time - local time) is at most the true
   * offset, and the largest recent sample is the best guess. */
  function serverClock() {
    /** @type {number[]} */
    const samples = [];
    return {
      sample(/** @type {number} */ serverMs, /** @type {number} */ localMs) {
        if (typeof serverMs !== "number" || !isFinite(serverMs)) return;
        samples.push(serverMs - localMs);
        if (samples.length > 20) samples.shift();
      },
      now(/** @type {number} */ localMs) {
        return localMs + (samples.length ? Math.max.apply(null, samples) : 0);
      },
    };
  }

  /** Where the clip should be (seconds) at the server time `serverNowMs`. */
  function expectedTime(/** @type {LiveState} */ state, /** @type {number} */ serverNowMs, /** @type {number} */ length) {
    let t = state.time;
    if (state.playing) t += Math.max(0, serverNowMs - state.at) / 1000;
    if (length > 0) t = Math.min(t, length);
    return Math.max(0, t);
  }

  /** What a follower at `current` does to be at `expected`: seek there, or play at a rate. */
  function correction(/** @type {number} */ current, /** @type {number} */ expected, /** @type {boolean} */ playing) {
    const off = current - expected;
    if (!playing) return { seek: Math.abs(off) > 0.001 ? expected : null, rate: 1 };
    if (Math.abs(off) > SEEK_OVER) return { seek: expected, rate: 1 };
    if (Math.abs(off) > NUDGE_OVER) return { seek: null, rate: off > 0 ? 0.9 : 1.1 };
    return { seek: null, rate: 1 };
  }

  /* Listen to the room. EventSource reconnects by itself after a dropped connection; this
   * also reopens it when the server refused it for a moment (closed for good by the
   * browser), when the phone comes back online, and when it has gone silent. */
  function listen(/** @type {string} */ url, /** @type {(data: any) => void} */ onMessage, /** @type {(up: boolean) => void} */ onSignal) {
    /** @type {EventSource | null} */
    let source = null;
    let last = Date.now();
    let stopped = false;
    let backoff = 2000;
    /** @type {ReturnType<typeof setTimeout> | null} */
    let retry = null;

    function open() {
      if (stopped) return;
      if (retry) { clearTimeout(retry); retry = null; }
      if (source) source.close();
      last = Date.now();
      const es = new EventSource(url);
      source = es;
      es.onopen = () => { backoff = 2000; onSignal(true); };
      es.onmessage = (event) => {
        last = Date.now();
        let data;
        try { data = JSON.parse(event.data); } catch { return; }
        onMessage(data);
        if (data && data.type === "ended") stop();
      };
      es.onerror = () => {
        onSignal(false);
        if (es.readyState === EventSource.CLOSED && !stopped) {
          retry = setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, 30000);
        }
      };
    }

    function stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      if (source) source.close();
    }

    // The phone knows it lost its signal: a stream that cannot deliver is closed at once,
    // and a fresh one (with a fresh snapshot of the room) opened when the signal is back.
    window.addEventListener("offline", () => {
      if (stopped) return;
      if (source) source.close();
      onSignal(false);
    });
    window.addEventListener("online", () => {
      if (!source || source.readyState !== EventSource.OPEN) open();
    });
    setInterval(() => { if (!stopped && Date.now() - last > SILENT_MS) open(); }, 5000);
    open();
    return { close: stop, reopen: open };
  }

  function clock(/** @type {number} */ seconds) {
    const t = Math.max(0, seconds || 0);
    const whole = Math.floor(t);
    return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0") + "." + Math.floor((t - whole) * 10);
  }

  /** POST a small JSON command to the room (CSRF header as every other change). */
  function post(/** @type {string} */ url, /** @type {object} */ body) {
    return vig.fetchJSON(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  }

  vig.liveSync = { serverClock, expectedTime, correction, listen, clock, post, SEEK_OVER };
})();

// @ts-check
/* The uploader's decisions (docs/upload-contract.md), as plain functions of what it knows:
 * no IndexedDB, no network, no clock of their own. uploader.js does what they say; the Node
 * unit tests (tests/js/upload-rules.test.mjs) check each rule.
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  /** In the page's language (common.js). @param {string} english @param {Record<string, string | number>} [vars] */
  const t = (english, vars) => (vig.t ? vig.t(english, vars) : english);
  // Worth retrying: a conflict or lock (another tab, a resumed PATCH), a damaged chunk (460).
  const RETRYABLE = new Set([409, 423, 460]);
  const SENDABLE = new Set(["queued", "uploading", "problem", "verifying"]);
  const KEEP_SENT_NOTE_MS = 30 * 864e5;
  // A record still "recording" or "copying" that has not changed for this long lost its page.
  const STALE_MS = 15 * 1000;

  const WORDS = {
    signedOut: t("Please open the link your practitioner sent you. Then it will send."),
    generic: t("Something went wrong sending this video. It is still safe on this phone."),
    dropped: t("The signal dropped. We will try again soon."),
    server: t("Something went wrong on our side. We will try again soon."),
    phone: t("This phone could not read the saved video. Please film it again."),
    mismatch: t("It did not arrive whole. Your video is still safe on this phone. Tap “Send again”."),
  };

  /* Status (0: no answer), code and message of a failed request: a tus error or a status one. */
  function describe(err) {
    const res = err && err.originalResponse;
    const status = res ? res.getStatus() : (err && err.status) || 0;
    let body = (err && err.body) || {};
    if (res) {
      try { body = JSON.parse(res.getBody() || "{}") || {}; } catch { body = {}; }
    }
    return { status: status, code: body.code || "", message: body.reason || body.message || "" };
  }

  /* Whether tus tries the same request again by itself (its retryDelays). */
  function shouldRetry(failure, online) {
    const status = failure.status;
    return online && (!status || status >= 500 || RETRYABLE.has(status));
  }

  /* The contract's one-off recoveries: "restart" (the server forgot or expired the upload:
   * again under the same client_id), "refresh-csrf", or null (give up). */
  function recovery(failure) {
    if (failure.status === 404 || failure.code === "expired") return "restart";
    if (failure.code === "csrf") return "refresh-csrf";
    return null;
  }

  /* What the server's status says of our copy: "rejected", "incomplete", "mismatch", or
   * "sent" (whole, with our sha256: only then may the phone delete its copy). */
  function verdict(status, rec) {
    if (status.status === "rejected") return "rejected";
    if (!status.safe) return "incomplete";
    if (status.sha256 && status.sha256 === rec.sha256) return "sent";
    return "mismatch";
  }

  /** What a failed upload does to its recording: {patch, sync} (store it; sync: retried later),
   * {wipe, notice} (consent withdrawn: empty the phone, DESIGN.md §7), or {verifyFirst, patch}
   * (ask the server's status; store the patch unless it rejected the video).
   * @returns {FailureStep} */
  function afterFailure(failure, now) {
    if (now.localRead) return { patch: { state: "problem", blocked: true, error: WORDS.phone } };
    const status = failure.status;
    if (!status) {
      // No answer from the server: no signal, or it dropped.
      const keep = now.state === "verifying" ? "verifying" : null;
      if (!now.online) return { patch: { state: keep || "queued", error: null }, sync: true };
      return { patch: { state: keep || "problem", error: WORDS.dropped, blocked: false }, sync: true };
    }
    if (status >= 500 || RETRYABLE.has(status)) {
      const words = status >= 500 ? WORDS.server : WORDS.dropped;
      return { patch: { state: "problem", error: words, blocked: false }, sync: true };
    }
    if (status === 401) return { patch: { state: "problem", error: WORDS.signedOut, blocked: true } };
    if (failure.code === "consent_withdrawn") return { wipe: true, notice: failure.message };
    // no_consent, quota_full, and anything that is our bug: keep the video, say so plainly,
    // and try again the next time the app is opened.
    const error = failure.message || WORDS.generic;
    if (failure.code === "too_large" || failure.code === "not_a_video") {
      return { patch: { state: "rejected", error: error } };
    }
    /** @type {Partial<LocalRecording>} */
    const problem = { state: "problem", error: error, blocked: true };
    return failure.code === "rejected" ? { verifyFirst: true, patch: problem } : { patch: problem };
  }

  /* Whether a record being filmed or copied lost its page. The recorder holds a Web Lock per
   * recording (any tab): `held` names those held or wanted (null: the browser cannot say, so
   * no news for STALE_MS means lost; the recorder writes every second). */
  function isOrphaned(rec, facts) {
    if (facts.busy) return false;
    if (facts.held) return !facts.held.has("vig-recording-" + rec.id);
    return facts.now - (rec.updatedAt || rec.createdAt) > STALE_MS;
  }

  /* startAll's tidying: "cut-back" (filming ended with its page), "broken" (a copy that never
   * finished), "forget" (an old note of a sent video) or null. */
  function tidy(rec, facts) {
    if (rec.state === "recording" && facts.orphaned) return "cut-back";
    if (rec.state === "copying" && facts.orphaned) return "broken";
    if (rec.state === "sent" && facts.now - (rec.sentAt || 0) > KEEP_SENT_NOTE_MS) return "forget";
    return null;
  }

  /** After the cut-back: for the parent to check, or broken if nothing whole was left.
   * @returns {Partial<LocalRecording>} */
  function afterCutBack(whole) {
    return whole.size
      ? { state: "review", interrupted: true, durationMs: whole.chunkSizes.length * 1000 } // ~1 chunk a second
      : { state: "broken" };
  }

  /* Whether startAll(why) sends it: "load" and "manual" also retry problems that need the
   * parent (signed out, ...); a mismatch waits for "Send again". */
  function shouldStart(rec, why) {
    if (!SENDABLE.has(rec.state) || rec.mismatch) return false;
    return !rec.blocked || why === "load" || why === "manual";
  }

  /* The percent sent, as every screen shows it: never 100 before the server said it is safe,
   * never below `shown` (what this tab showed: a page counts bytes handed to the network, the
   * next one only the bytes the server took). */
  function percent(rec, live, shown) {
    const saved = rec.size ? (rec.sent || 0) / rec.size : 0;
    return Math.max(Math.min(99, Math.floor(100 * Math.max(live || 0, saved))), shown || 0);
  }

  vig.uploadRules = {
    SENDABLE: SENDABLE, WORDS: WORDS, describe: describe, shouldRetry: shouldRetry,
    recovery: recovery, verdict: verdict, afterFailure: afterFailure, isOrphaned: isOrphaned,
    tidy: tidy, afterCutBack: afterCutBack, shouldStart: shouldStart, percent: percent,
  };
})();

// The uploader's decisions (upload-rules.js): what tus retries, what a failure does to the
// recording and its words, when the phone may delete its copy, what startAll tidies and sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadScripts } from "./load.mjs";

const rules = loadScripts(["js/upload-rules.js"]).uploadRules;
const plain = (value) => JSON.parse(JSON.stringify(value)); // objects from the script's realm
const failure = (status, code = "", message = "") => ({ status, code, message });
const rec = (fields) => ({ id: "r1", createdAt: 1000, size: 100, chunkSizes: [50, 50], sent: 0, ...fields });

test("describe reads tus errors (the server's JSON) and status errors alike", () => {
  const tusError = {
    originalResponse: { getStatus: () => 403, getBody: () => '{"code": "consent_withdrawn", "reason": "You stopped."}' },
  };
  assert.deepEqual(plain(rules.describe(tusError)), failure(403, "consent_withdrawn", "You stopped."));
  const garbled = { originalResponse: { getStatus: () => 502, getBody: () => "<html>Bad gateway" } };
  assert.deepEqual(plain(rules.describe(garbled)), failure(502));
  const statusError = { status: 404, body: { code: "unknown", message: "Not here." } };
  assert.deepEqual(plain(rules.describe(statusError)), failure(404, "unknown", "Not here."));
  assert.deepEqual(plain(rules.describe(new Error("network"))), failure(0));
  assert.deepEqual(plain(rules.describe(null)), failure(0));
});

test("tus retries by itself only what may work next time, and only with signal", () => {
  for (const status of [0, 409, 423, 460, 500, 503]) {
    assert.equal(rules.shouldRetry(failure(status), true), true, `status ${status}`);
    assert.equal(rules.shouldRetry(failure(status), false), false, `status ${status} offline`);
  }
  for (const status of [400, 401, 403, 404, 410, 413, 415]) {
    assert.equal(rules.shouldRetry(failure(status), true), false, `status ${status}`);
  }
});

test("a forgotten or expired upload starts again; a stale CSRF token is refreshed", () => {
  assert.equal(rules.recovery(failure(404)), "restart");
  assert.equal(rules.recovery(failure(410, "expired")), "restart");
  assert.equal(rules.recovery(failure(400, "csrf")), "refresh-csrf");
  assert.equal(rules.recovery(failure(403, "consent_withdrawn")), null);
  assert.equal(rules.recovery(failure(0)), null);
});

test("the phone deletes its copy only when the server holds it whole with the same sha256", () => {
  const ours = { sha256: "abc" };
  assert.equal(rules.verdict({ status: "ready", safe: true, sha256: "abc" }, ours), "sent");
  assert.equal(rules.verdict({ status: "received", safe: true, sha256: "abd" }, ours), "mismatch");
  assert.equal(rules.verdict({ status: "received", safe: true }, ours), "mismatch");
  assert.equal(rules.verdict({ status: "uploading", safe: false, sha256: "abc" }, ours), "incomplete");
  assert.equal(rules.verdict({ status: "rejected", safe: true, sha256: "abc" }, ours), "rejected");
  assert.equal(rules.verdict({ status: "ready", safe: true, sha256: "abc" }, { sha256: null }), "mismatch");
});

const online = { localRead: false, online: true, state: "uploading" };

test("no answer: waits for signal (offline) or tries again soon (dropped); verifying stays so", () => {
  const W = rules.WORDS;
  assert.deepEqual(plain(rules.afterFailure(failure(0), { ...online, online: false })),
    { patch: { state: "queued", error: null }, sync: true });
  assert.deepEqual(plain(rules.afterFailure(failure(0), online)),
    { patch: { state: "problem", error: W.dropped, blocked: false }, sync: true });
  assert.deepEqual(plain(rules.afterFailure(failure(0), { ...online, state: "verifying" })),
    { patch: { state: "verifying", error: W.dropped, blocked: false }, sync: true });
});

test("server trouble is retried later; signed out and our bugs wait for the parent", () => {
  const W = rules.WORDS;
  assert.deepEqual(plain(rules.afterFailure(failure(503), online)),
    { patch: { state: "problem", error: W.server, blocked: false }, sync: true });
  assert.deepEqual(plain(rules.afterFailure(failure(460), online)),
    { patch: { state: "problem", error: W.dropped, blocked: false }, sync: true });
  assert.deepEqual(plain(rules.afterFailure(failure(401, "signed_out", "Sign in."), online)),
    { patch: { state: "problem", error: W.signedOut, blocked: true } });
  assert.deepEqual(plain(rules.afterFailure(failure(403, "quota_full", "Your space is full."), online)),
    { patch: { state: "problem", error: "Your space is full.", blocked: true } });
  assert.deepEqual(plain(rules.afterFailure(failure(400), online)),
    { patch: { state: "problem", error: W.generic, blocked: true } });
});

test("a video the server will never take is rejected, in the server's words", () => {
  assert.deepEqual(plain(rules.afterFailure(failure(413, "too_large", "Too long."), online)),
    { patch: { state: "rejected", error: "Too long." } });
  assert.deepEqual(plain(rules.afterFailure(failure(415, "not_a_video"), online)),
    { patch: { state: "rejected", error: rules.WORDS.generic } });
  // "rejected" on a PATCH: the server's status decides; if it did not reject, keep the video.
  assert.deepEqual(plain(rules.afterFailure(failure(409, "rejected", "Broken file."), { ...online })),
    { patch: { state: "problem", error: rules.WORDS.dropped, blocked: false }, sync: true });
  assert.deepEqual(plain(rules.afterFailure(failure(422, "rejected", "Broken file."), online)),
    { verifyFirst: true, patch: { state: "problem", error: "Broken file.", blocked: true } });
});

test("consent withdrawn empties the phone; a phone that cannot read its copy says so", () => {
  assert.deepEqual(plain(rules.afterFailure(failure(403, "consent_withdrawn", "Deleted."), online)),
    { wipe: true, notice: "Deleted." });
  assert.deepEqual(plain(rules.afterFailure(failure(0), { ...online, localRead: true })),
    { patch: { state: "problem", blocked: true, error: rules.WORDS.phone } });
});

test("a recording lost its page when no tab holds its lock (or, without locks, after 15 s)", () => {
  const filming = rec({ state: "recording", updatedAt: 100000 });
  const held = new Set(["vig-recording-r1"]);
  assert.equal(rules.isOrphaned(filming, { held, now: 10 ** 9, busy: false }), false);
  assert.equal(rules.isOrphaned(filming, { held: new Set(), now: 0, busy: false }), true);
  assert.equal(rules.isOrphaned(filming, { held: null, now: 115000, busy: false }), false);
  assert.equal(rules.isOrphaned(filming, { held: null, now: 115001, busy: false }), true);
  assert.equal(rules.isOrphaned(filming, { held: new Set(), now: 0, busy: true }), false);
});

test("startAll tidies: cut back what filming left, mark broken copies, forget old notes", () => {
  const day = 864e5;
  assert.equal(rules.tidy(rec({ state: "recording" }), { orphaned: true, now: 0 }), "cut-back");
  assert.equal(rules.tidy(rec({ state: "recording" }), { orphaned: false, now: 0 }), null);
  assert.equal(rules.tidy(rec({ state: "copying" }), { orphaned: true, now: 0 }), "broken");
  assert.equal(rules.tidy(rec({ state: "sent", sentAt: 0 }), { orphaned: true, now: 30 * day }), null);
  assert.equal(rules.tidy(rec({ state: "sent", sentAt: 0 }), { orphaned: true, now: 30 * day + 1 }), "forget");
  assert.equal(rules.tidy(rec({ state: "queued" }), { orphaned: true, now: 10 ** 12 }), null);
  assert.deepEqual(plain(rules.afterCutBack(rec({ size: 3000, chunkSizes: [1000, 1000, 1000] }))),
    { state: "review", interrupted: true, durationMs: 3000 });
  assert.deepEqual(plain(rules.afterCutBack(rec({ size: 0, chunkSizes: [] }))), { state: "broken" });
});

test("startAll sends what waits; problems needing the parent only on load or a tap", () => {
  for (const state of ["queued", "uploading", "problem", "verifying"]) {
    assert.equal(rules.shouldStart(rec({ state }), "timer"), true, state);
  }
  for (const state of ["recording", "copying", "review", "broken", "sent", "rejected"]) {
    assert.equal(rules.shouldStart(rec({ state }), "load"), false, state);
  }
  const blocked = rec({ state: "problem", blocked: true });
  assert.equal(rules.shouldStart(blocked, "online"), false);
  assert.equal(rules.shouldStart(blocked, "load"), true);
  assert.equal(rules.shouldStart(blocked, "manual"), true);
  assert.equal(rules.shouldStart(rec({ state: "problem", mismatch: true, blocked: true }), "load"), false);
});

test("the percent shown never reaches 100 before the server said so, and never goes back", () => {
  assert.equal(rules.percent(rec({ size: 200, sent: 50 }), undefined, 0), 25);
  assert.equal(rules.percent(rec({ size: 200, sent: 50 }), 0.6, 0), 60);
  assert.equal(rules.percent(rec({ size: 200, sent: 200 }), 1, 0), 99);
  assert.equal(rules.percent(rec({ size: 200, sent: 50 }), undefined, 70), 70);
  assert.equal(rules.percent(rec({ size: 0 }), undefined, 0), 0);
});

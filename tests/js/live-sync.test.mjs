// The live review's sync rules (live-sync.js): where the clip should be now, what a following
// phone does about being off, and the server's clock as the page estimates it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadScripts } from "./load.mjs";

const sync = loadScripts(["js/live-sync.js"]).liveSync;
const plain = (value) => JSON.parse(JSON.stringify(value));
const state = (fields) => ({ seq: 1, clip: 7, time: 2, playing: false, at: 10_000, ...fields });

test("paused, the clip is where the command left it, however long ago", () => {
  assert.equal(sync.expectedTime(state({ time: 2.5 }), 99_000, 8), 2.5);
});

test("playing, the time since the command is added, up to the clip's end", () => {
  assert.equal(sync.expectedTime(state({ playing: true }), 11_500, 8), 3.5);
  assert.equal(sync.expectedTime(state({ playing: true }), 60_000, 8), 8);
  // A clock a little behind the command's stamp never moves the clip back.
  assert.equal(sync.expectedTime(state({ playing: true }), 9_000, 8), 2);
});

test("a follower seeks only when more than 0.25 s off, and nudges its rate when a little off", () => {
  assert.deepEqual(plain(sync.correction(3.3, 3, true)), { seek: 3, rate: 1 });
  assert.deepEqual(plain(sync.correction(2.6, 3, true)), { seek: 3, rate: 1 });
  assert.deepEqual(plain(sync.correction(3.1, 3, true)), { seek: null, rate: 0.9 });
  assert.deepEqual(plain(sync.correction(2.9, 3, true)), { seek: null, rate: 1.1 });
  assert.deepEqual(plain(sync.correction(3.02, 3, true)), { seek: null, rate: 1 });
  assert.equal(sync.SEEK_OVER, 0.25);
});

test("paused, a follower shows exactly the commanded time (the same frame)", () => {
  assert.deepEqual(plain(sync.correction(3.01, 3, false)), { seek: 3, rate: 1 });
  assert.deepEqual(plain(sync.correction(3.0005, 3, false)), { seek: null, rate: 1 });
});

test("the server's clock is the largest recent offset: a message is never early", () => {
  const clock = sync.serverClock();
  assert.equal(clock.now(1000), 1000); // no sample yet: the page's own clock
  clock.sample(5_000, 4_900); // sent at 5000 by the server, arrived at 4900 here: +100 or more
  clock.sample(5_100, 5_050); // a slow one says only +50
  assert.equal(clock.now(6_000), 6_100);
  clock.sample(NaN, 1);
  assert.equal(clock.now(6_000), 6_100);
});

test("clock times read as minutes, seconds and tenths", () => {
  assert.equal(sync.clock(0), "0:00.0");
  assert.equal(sync.clock(61.25), "1:01.2");
  assert.equal(sync.clock(-3), "0:00.0");
});

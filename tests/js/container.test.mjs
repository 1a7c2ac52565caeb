// vig.makeWhole (container.js): a recording cut short is cut back to the end of its last whole
// element. Built here byte by byte as MediaRecorder writes them (WebM with unknown-size Segment
// and Clusters; fragmented MP4), then cut at every byte and stored in random chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunked, loadScripts, random } from "./load.mjs";

// ---- a tiny EBML writer
function vint(n) {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out = new Uint8Array(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) { out[i] = v % 256; v = Math.floor(v / 256); }
      out[0] |= 0x80 >> (len - 1);
      return out;
    }
  }
  throw new Error("too big");
}
const UNKNOWN = Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const idBytes = (id) => Uint8Array.from(id.toString(16).match(/../g), (h) => parseInt(h, 16));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

/* A file as a list of pieces; `whole` marks the offsets where the file may end and still be
 * whole (after a complete element the cutter keeps). */
class Writer {
  constructor() { this.parts = []; this.length = 0; this.whole = [0]; }
  put(bytes, whole) {
    this.parts.push(bytes);
    this.length += bytes.length;
    if (whole) this.whole.push(this.length);
  }
  bytes() { return concat(...this.parts); }
  /* The longest whole prefix of the first `cut` bytes. */
  expected(cut) { return Math.max(...this.whole.filter((w) => w <= cut)); }
}

const element = (id, data) => concat(idBytes(id), vint(data.length), data);

function webm({ knownSizeCluster = false } = {}) {
  const rand = random(5);
  const w = new Writer();
  w.put(element(0x1a45dfa3, concat(element(0x4282, new TextEncoder().encode("webm")))), true);
  w.put(concat(idBytes(0x18538067), UNKNOWN), true); // Segment: its data starts here
  w.put(element(0x1549a966, rand.bytes(20)), true); // Info
  w.put(element(0x1654ae6b, rand.bytes(40)), true); // Tracks
  for (let cluster = 0; cluster < 3; cluster++) {
    const children = [element(0xe7, Uint8Array.of(cluster))]; // Timecode
    for (let block = 0; block < 4; block++) children.push(element(0xa3, rand.bytes(10 + rand.int(30))));
    // A live Cluster (unknown size) or one with its size: its header alone is no use, and a
    // cut one keeps its whole blocks.
    const size = knownSizeCluster && cluster === 1 ? vint(concat(...children).length) : UNKNOWN;
    w.put(concat(idBytes(0x1f43b675), size), false);
    for (const child of children) w.put(child, true);
  }
  return w;
}

function box(type, data, { large = false } = {}) {
  const head = new Uint8Array(large ? 16 : 8);
  const view = new DataView(head.buffer);
  const size = head.length + data.length;
  if (large) { view.setUint32(0, 1); view.setUint32(8, 0); view.setUint32(12, size); } else view.setUint32(0, size);
  head.set(new TextEncoder().encode(type), 4);
  return concat(head, data);
}

function mp4() {
  const rand = random(9);
  const w = new Writer();
  w.put(box("ftyp", new TextEncoder().encode("isommp42")), true);
  w.put(box("moov", rand.bytes(60)), true);
  for (let fragment = 0; fragment < 3; fragment++) {
    w.put(box("moof", rand.bytes(24)), false); // a fragment header without its media is no use
    w.put(box("mdat", rand.bytes(30 + rand.int(40)), { large: fragment === 1 }), true);
  }
  return w;
}

// container.js, loaded once; each phone below puts its own store behind it.
const page = { store: null };
const { makeWhole } = loadScripts(["js/container.js"], {
  vig: { store: new Proxy({}, { get: (_, name) => page.store[name] }) },
});

/* The recording as vig-store.js keeps it, in random chunks, and makeWhole over it. */
function phoneWith(bytes, rand) {
  let chunks = chunked(bytes, rand, 25);
  const rec = { id: "r", chunkSizes: chunks.map((c) => c.byteLength), size: bytes.length };
  const truncated = [];
  const store = {
    async get() { return rec; },
    async readChunks(_id, from, to) { return chunks.slice(from, to + 1); },
    async truncate(_id, length) {
      truncated.push(length);
      const kept = concat(...chunks.map((c) => new Uint8Array(c))).slice(0, length);
      chunks = [kept.buffer];
      return { ...rec, size: length, chunkSizes: [length] };
    },
  };
  return { makeWhole: () => { page.store = store; return makeWhole("r"); }, truncated };
}

async function checkEveryCut(file, from) {
  const bytes = file.bytes();
  const rand = random(bytes.length);
  for (let cut = from; cut <= bytes.length; cut++) {
    const phone = phoneWith(bytes.slice(0, cut), rand);
    const rec = await phone.makeWhole();
    const want = file.expected(cut);
    assert.equal(rec.size, want, `cut at ${cut} of ${bytes.length}`);
    assert.deepEqual(phone.truncated, want < cut ? [want] : [], `cut at ${cut}: truncated once, only if needed`);
  }
}

test("a WebM cut anywhere keeps every whole block and nothing after", async () => {
  await checkEveryCut(webm(), 4);
});

test("a WebM with a Cluster of known size is cut the same way", async () => {
  await checkEveryCut(webm({ knownSizeCluster: true }), 4);
});

test("an MP4 cut anywhere keeps its whole fragments (moof with its mdat), 64-bit sizes too", async () => {
  await checkEveryCut(mp4(), 8);
});

test("a finished recording is left alone", async () => {
  for (const file of [webm(), mp4()]) {
    const phone = phoneWith(file.bytes(), random(3));
    assert.equal((await phone.makeWhole()).size, file.length);
    assert.deepEqual(phone.truncated, []);
  }
});

test("bytes that are neither WebM nor MP4 are left alone", async () => {
  const phone = phoneWith(random(4).bytes(300), random(4));
  assert.equal((await phone.makeWhole()).size, 300);
  assert.deepEqual(phone.truncated, []);
});

// vig.hashRecording (sha256.js) against Node's crypto: its own incremental SHA-256 (the path
// for recordings too big for WebCrypto's one-shot digest) and the WebCrypto path, over random
// bytes split into random stored chunks, at the lengths where SHA-256's padding changes.
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { test } from "node:test";
import { chunked, loadScripts, random } from "./load.mjs";

// 55/56 and 119/120: the length field fits in the last block or spills into another one.
const EDGES = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 191, 192, 1000, 4096];

function storeOf(chunks) {
  return {
    async readChunks() { return chunks; },
    async forEachChunk(_id, count, fn) {
      for (let seq = 0; seq < count; seq++) await fn(chunks[seq]);
    },
  };
}

function recordingOf(chunks) {
  const chunkSizes = chunks.map((c) => c.byteLength);
  return { id: "r", chunkSizes, size: chunkSizes.reduce((a, b) => a + b, 0) };
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

// No WebCrypto in this page: the incremental SHA-256 does all the work.
function incremental(chunks) {
  const vig = loadScripts(["js/sha256.js"], { vig: { store: storeOf(chunks) } });
  return vig.hashRecording(recordingOf(chunks));
}

function native(chunks) {
  const vig = loadScripts(["js/sha256.js"], {
    crypto: webcrypto, Blob,
    vig: { store: storeOf(chunks), readBlob: (blob) => blob.arrayBuffer() },
  });
  return vig.hashRecording(recordingOf(chunks));
}

test("the incremental SHA-256 matches Node's at every padding edge, however it is chunked", async () => {
  const rand = random(15);
  for (const length of EDGES) {
    const bytes = rand.bytes(length);
    for (const maxChunk of [1, 7, 64, 100, 5000]) {
      assert.equal(await incremental(chunked(bytes, rand, maxChunk)), sha256(bytes), `length ${length}, chunks ≤ ${maxChunk}`);
    }
  }
});

test("the incremental SHA-256 matches Node's on random lengths and a 3 MB recording", async () => {
  const rand = random(2024);
  for (let i = 0; i < 40; i++) {
    const bytes = rand.bytes(rand.int(20000));
    assert.equal(await incremental(chunked(bytes, rand, 1 + rand.int(3000))), sha256(bytes), `seed 2024, case ${i}`);
  }
  const big = rand.bytes(3 * 1024 * 1024);
  assert.equal(await incremental(chunked(big, rand, 1024 * 1024)), sha256(big));
});

test("the WebCrypto path gives the same hex", async () => {
  const rand = random(7);
  for (const length of [0, 56, 64, 9999]) {
    const bytes = rand.bytes(length);
    assert.equal(await native(chunked(bytes, rand, 333)), sha256(bytes));
  }
});

test("a missing stored piece fails instead of hashing what is left", async () => {
  const chunks = chunked(random(1).bytes(500), random(2), 100);
  const vig = loadScripts(["js/sha256.js"], {
    vig: {
      store: {
        async forEachChunk(_id, count, fn) {
          for (let seq = 0; seq < count; seq++) {
            if (seq === 2) throw new Error("missing chunk 2");
            await fn(chunks[seq]);
          }
        },
      },
    },
  });
  await assert.rejects(vig.hashRecording(recordingOf(chunks)), /missing chunk 2/);
});

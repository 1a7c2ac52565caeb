// Runs the browser's classic scripts (vigparent/static/js) in a Node `vm` context standing in
// for the page, in the order given (the order of their bundle), and returns what they put on
// `window.vig`. Only what a test passes in `globals` exists there besides JavaScript itself,
// so a script that reaches for anything else fails loudly.
import { readFileSync } from "node:fs";
import vm from "node:vm";

const STATIC = new URL("../../vigparent/static/", import.meta.url);

export function loadScripts(sources, globals = {}) {
  const page = { ...globals };
  page.window = page;
  page.self = page;
  vm.createContext(page);
  for (const source of sources) {
    const url = new URL(source, STATIC);
    vm.runInContext(readFileSync(url, "utf8"), page, { filename: url.pathname });
  }
  return page.vig;
}

// A small seeded random generator (mulberry32), so a failure can be replayed from its seed.
export function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.bytes = (n) => Uint8Array.from({ length: n }, () => next.int(256));
  return next;
}

// Split `bytes` into stored chunks of random sizes (as MediaRecorder hands them over), and
// the chunk store vig-store.js would keep for them.
export function chunked(bytes, rand, maxChunk = 64) {
  const chunks = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, 1 + rand.int(maxChunk));
    chunks.push(bytes.slice(at, at + n).buffer);
    at += n;
  }
  return chunks;
}

// @ts-check
/* Making a cut-short recording whole again.
 *
 * MediaRecorder hands over bytes every second without regard to the file's structure: a
 * chunk can end in the middle of a WebM block or MP4 box. When filming ends normally the
 * last chunk completes the file; when it ends abruptly (the tab closed, the phone crashed,
 * the phone was full) the saved bytes stop mid-element, and the server rightly refuses a
 * cut-off file ("damaged part-way through"). So before such a recording is offered for
 * sending we cut it back to the end of its last whole element: the parent loses a fraction
 * of a second, not the video.
 *
 * Only headers are read (element ids and sizes), through a small reader over the chunk store.
 *
 * @requires js/vig-store.js
 */
(function () {
  "use strict";
  const vig = /** @type {Vig} */ (window.vig = window.vig || {});
  const EBML = 0x1a45dfa3;
  const SEGMENT = 0x18538067;
  const CLUSTER = 0x1f43b675;
  // Matroska top-level ids: an unknown-size Cluster (as MediaRecorder writes) ends at one.
  const LEVEL1 = new Set([EBML, SEGMENT, 0x114d9b74, 0x1549a966, 0x1654ae6b, CLUSTER,
    0x1c53bb6b, 0x1941a469, 0x1043a770, 0x1254c367]);

  /* Random access to a stored recording's bytes, one cached chunk at a time. */
  class ChunkReader {
    constructor(rec) {
      this.id = rec.id;
      this.sizes = rec.chunkSizes;
      this.starts = [];
      let at = 0;
      for (const n of this.sizes) { this.starts.push(at); at += n; }
      this.size = at;
      this.cached = { seq: -1, bytes: null };
    }

    async chunk(seq) {
      if (this.cached.seq !== seq) {
        const [buffer] = await vig.store.readChunks(this.id, seq, seq);
        this.cached = { seq: seq, bytes: new Uint8Array(buffer) };
      }
      return this.cached.bytes;
    }

    /* Up to n bytes from pos (fewer at the end of the file). */
    async read(pos, n) {
      const out = new Uint8Array(Math.max(0, Math.min(n, this.size - pos)));
      let filled = 0;
      while (filled < out.length) {
        const at = pos + filled;
        let seq = this.starts.length - 1;
        while (this.starts[seq] > at) seq--;
        const bytes = await this.chunk(seq);
        const from = at - this.starts[seq];
        const take = Math.min(out.length - filled, bytes.length - from);
        out.set(bytes.subarray(from, from + take), filled);
        filled += take;
      }
      return out;
    }
  }

  function vintLength(first) {
    for (let i = 0; i < 8; i++) if (first & (0x80 >> i)) return i + 1;
    return 0;
  }

  /* {id, size (null if unknown), data} for the element at pos, or null if cut off or bad. */
  async function element(reader, pos, end) {
    const h = await reader.read(pos, Math.min(12, end - pos));
    const idLen = h.length ? vintLength(h[0]) : 0;
    if (!idLen || idLen > 4 || h.length < idLen + 1) return null;
    let id = 0;
    for (let i = 0; i < idLen; i++) id = id * 256 + h[i];
    const sizeLen = vintLength(h[idLen]);
    if (!sizeLen || h.length < idLen + sizeLen) return null;
    let size = h[idLen] & (0xff >> sizeLen);
    let allOnes = size === 0xff >> sizeLen;
    for (let i = 1; i < sizeLen; i++) {
      size = size * 256 + h[idLen + i];
      allOnes = allOnes && h[idLen + i] === 0xff;
    }
    return { id: id, size: allOnes ? null : size, data: pos + idLen + sizeLen };
  }

  async function webmWholeLength(reader) {
    const end = reader.size;
    let pos = 0;
    while (pos < end) {
      const el = await element(reader, pos, end);
      if (!el) return pos;
      if (el.id === SEGMENT) {
        return segmentWholeLength(reader, el.data, el.size === null ? end : Math.min(end, el.data + el.size));
      }
      if (el.size === null || el.data + el.size > end) return pos;
      pos = el.data + el.size;
    }
    return pos;
  }

  async function segmentWholeLength(reader, pos, end) {
    let whole = pos;
    while (pos < end) {
      const el = await element(reader, pos, end);
      if (!el) return whole;
      if (el.id !== CLUSTER) {
        if (el.size === null || el.data + el.size > end) return whole;
        pos = whole = el.data + el.size;
        continue;
      }
      if (el.size !== null && el.data + el.size <= end) {
        pos = whole = el.data + el.size;
        continue;
      }
      // A live (or cut) cluster: keep every block that is complete.
      let at = el.data;
      for (;;) {
        if (at >= end) return whole;
        const child = await element(reader, at, end);
        if (!child) return whole;
        if (el.size === null && LEVEL1.has(child.id)) break; // the next cluster
        if (child.size === null || child.data + child.size > end) return whole;
        at = whole = child.data + child.size;
      }
      pos = at;
    }
    return whole;
  }

  async function mp4WholeLength(reader) {
    const end = reader.size;
    let pos = 0, whole = 0, lastType = "", beforeMoof = 0;
    while (pos + 8 <= end) {
      const h = await reader.read(pos, 16);
      const view = new DataView(h.buffer, h.byteOffset, h.length);
      let size = view.getUint32(0);
      const type = String.fromCharCode(h[4], h[5], h[6], h[7]);
      let headerLen = 8;
      if (size === 1) {
        if (h.length < 16) break;
        size = view.getUint32(8) * 4294967296 + view.getUint32(12);
        headerLen = 16;
      } else if (size === 0) {
        size = end - pos;
      }
      if (size < headerLen || pos + size > end) break;
      if (type === "moof") beforeMoof = pos;
      pos = whole = pos + size;
      lastType = type;
    }
    // A fragment header without its media data is no use.
    return lastType === "moof" ? beforeMoof : whole;
  }

  /* Cut recording `id` back to its last whole element; returns the record (size may be 0). */
  vig.makeWhole = async function (id) {
    const rec = await vig.store.get(id);
    if (!rec || !rec.size) return rec;
    const reader = new ChunkReader(rec);
    const head = await reader.read(0, 12);
    const isWebm = head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3;
    const isMp4 = String.fromCharCode(head[4], head[5], head[6], head[7]) === "ftyp";
    if (!isWebm && !isMp4) return rec;
    const length = isWebm ? await webmWholeLength(reader) : await mp4WholeLength(reader);
    if (length >= rec.size) return rec;
    return vig.store.truncate(id, length);
  };
})();

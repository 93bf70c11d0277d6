#!/usr/bin/env node
// Generates Floe's quilt conformance vectors with Walrus's own encoders:
//
//   - the quilt layout: encodeQuilt from @mysten/walrus (Walrus's TypeScript SDK, Apache-2.0),
//     a pure function that needs no Sui client or network: it takes the files and the number
//     of shards and returns the quilt blob bytes and its index;
//   - the quilt's blob ID: BlobEncoder.compute_metadata from @mysten/walrus-wasm (walrus-core's
//     RS2 encoder compiled to wasm), as ../../../../shared/tools/walrus-ref does;
//   - the patch IDs: encodeQuiltPatchId from the same SDK (not exported by the package entry
//     point, so it is imported from its file).
//
// usage (from this directory, Node 20 or later):
//   npm ci
//   node gen.mjs > ../walrus-quilt-vectors.jsonl
//
// One JSON object a line. File contents are not stored: each file is regenerated from its seed
// and length with the PRNG "sha256ctr-v1" (block_i = SHA-256(u64le(seed) || u64le(i)), data =
// the first len bytes of block_0 || block_1 || ...), the same as ../../../redstuff/testdata.
//
// Fields of a row:
//   case, n_shards, files: [{identifier, tags?, seed, len}] in the order given to the encoder
//   (deliberately not sorted), and either
//   error: the encoder's message when Walrus refuses the input, or
//   symbol_size, quilt_len, quilt_sha256 (of the quilt blob bytes), quilt_blob_id (URL-safe
//   base64), index_columns, index_hex (the index as stored at the start of column 0:
//   0x01 || u32le(len) || BCS(QuiltIndexV1)), patches: [{identifier, start, end, patch_id}] in
//   the quilt's order.
//
// The SDK sorts identifiers with JavaScript's `<` (UTF-16 code units) while Walrus's Rust
// encoder sorts UTF-8 bytes; they differ only when an identifier mixes characters U+E000..U+FFFF
// with characters above U+FFFF at the same position. The generator refuses such inputs (it
// checks the SDK's order against the byte order), so every vector agrees with both encoders.

import { createHash } from 'node:crypto';
import { encodeQuilt } from '@mysten/walrus';
import { encodeQuiltPatchId } from './node_modules/@mysten/walrus/dist/utils/quilts.mjs';
import { BlobEncoder } from '@mysten/walrus-wasm';

function prngBytes(seed, len) {
  const out = Buffer.alloc(len);
  const msg = Buffer.alloc(16);
  msg.writeBigUInt64LE(BigInt(seed), 0);
  for (let i = 0, off = 0; off < len; i++, off += 32) {
    msg.writeBigUInt64LE(BigInt(i), 8);
    createHash('sha256').update(msg).digest().copy(out, off, 0, Math.min(32, len - off));
  }
  return new Uint8Array(out.buffer, out.byteOffset, len);
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const b64url = (b) => Buffer.from(b).toString('base64url');

function sourceSymbols(n) {
  const f = Math.floor((n - 1) / 3);
  return { rows: n - 2 * f, cols: n - f };
}

const encoders = new Map();
function blobId(data, n) {
  let e = encoders.get(n);
  if (!e) {
    e = new BlobEncoder(n);
    encoders.set(n, e);
  }
  const [id] = e.compute_metadata(data);
  return Uint8Array.from(id);
}

// Reads the bytes of a patch or the index: column-major from startCol, as Walrus lays them out.
function readColumns(quilt, n, symbolSize, startCol, offset, length) {
  const { rows, cols } = sourceSymbols(n);
  const rowSize = cols * symbolSize;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const b = offset + i;
    const sym = Math.floor(b / symbolSize);
    const col = startCol + Math.floor(sym / rows);
    const row = sym % rows;
    out[i] = quilt[row * rowSize + col * symbolSize + (b % symbolSize)];
  }
  return out;
}

function row(name, n, files) {
  const r = { case: name, n_shards: n, files };
  const blobs = files.map((f) => ({
    identifier: f.identifier,
    contents: prngBytes(f.seed, f.len),
    ...(f.tags ? { tags: f.tags } : {}),
  }));
  let enc;
  try {
    enc = encodeQuilt({ blobs, numShards: n });
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
    return r;
  }
  const { quilt, index } = enc;
  const { rows, cols } = sourceSymbols(n);
  if (quilt.length % (rows * cols) !== 0) throw new Error(`${name}: quilt length ${quilt.length} is not a whole matrix`);
  const symbolSize = quilt.length / (rows * cols);
  const order = index.patches.map((p) => p.identifier);
  const byteOrder = [...order].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (order.join('\u0000') !== byteOrder.join('\u0000')) {
    throw new Error(`${name}: the SDK's identifier order differs from Walrus's byte order; choose other identifiers`);
  }
  const idBytes = blobId(quilt, n);
  const quiltId = b64url(idBytes);
  const head = readColumns(quilt, n, symbolSize, 0, 0, 5);
  const indexLen = Buffer.from(head).readUInt32LE(1);
  const indexBytes = readColumns(quilt, n, symbolSize, 0, 0, 5 + indexLen);
  const columnSize = rows * symbolSize;
  r.symbol_size = symbolSize;
  r.quilt_len = quilt.length;
  r.quilt_sha256 = sha256(quilt);
  r.quilt_blob_id = quiltId;
  r.index_columns = Math.ceil((5 + indexLen) / columnSize);
  r.index_hex = Buffer.from(indexBytes).toString('hex');
  r.patches = index.patches.map((p) => ({
    identifier: p.identifier,
    start: p.startIndex,
    end: p.endIndex,
    patch_id: encodeQuiltPatchId({ quiltId, patchId: { version: 1, startIndex: p.startIndex, endIndex: p.endIndex } }),
  }));
  return r;
}

// ---- the cases ----------------------------------------------------------------------------

let seedBase = 0;
// files builds count files named by name(i), of length len(i), tagged by tags(i) (or none).
function files(count, name, len, tags) {
  seedBase += 100000;
  const out = [];
  for (let i = 0; i < count; i++) {
    const f = { identifier: name(i), seed: seedBase + i, len: len(i) };
    const t = tags ? tags(i) : null;
    if (t) f.tags = t;
    out.push(f);
  }
  return out;
}

// A deterministic permutation, so that inputs are never given in sorted order.
function shuffle(list, seed) {
  const a = [...list];
  let x = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const pad = (i, w) => String(i).padStart(w, '0');
// A size spread from 0 to max that is deterministic in i.
const spread = (i, max) => (i * 7919 + 13) % (max + 1);

const cases = [];
const add = (name, n, fs) => cases.push([name, n, fs]);

add('n4-one-file', 4, files(1, () => 'a', () => 10));
add('n4-two-files-tags', 4, shuffle(files(2, (i) => ['zeta.txt', 'alpha.txt'][i], (i) => [3, 40][i], (i) => (i === 0 ? { k: 'v' } : null)), 4));
add('n10-no-files', 10, []);
add('n10-one-empty-file', 10, files(1, () => 'empty', () => 0));
add('n10-empty-files', 10, shuffle(files(4, (i) => `e${i}`, () => 0, (i) => (i % 2 ? { kind: 'empty' } : null)), 10));
add('n10-max-files', 10, shuffle(files(6, (i) => `file-${i}.bin`, (i) => 17 * i + 1), 11));
add('n10-too-many-files', 10, files(7, (i) => `file-${i}.bin`, () => 5));
add('n10-duplicate', 10, [
  { identifier: 'same', seed: 1, len: 3 },
  { identifier: 'other', seed: 2, len: 3 },
  { identifier: 'same', seed: 3, len: 4 },
]);
add('n10-tags-bcs-order', 10, shuffle(files(3, (i) => `t${i}`, (i) => 100 + i, (i) => [
  // BCS sorts map keys by their serialized bytes (length prefix first): "b" < "ab" < "abc".
  { ab: '2', b: '1', abc: '3' },
  { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=3600' },
  { 'schlüssel': 'wert ✓', '': 'empty key', 'empty value': '' },
][i]), 12));
add('n10-unicode-identifiers', 10, shuffle(files(6, (i) => [
  'café.txt', 'cafe.txt', '日本語/ファイル.md', '📄 notes.md', 'Zebra', 'über-ß',
][i], (i) => 30 * i, (i) => (i === 2 ? { 'язык': 'русский' } : null)), 13));
add('n10-multicolumn-index', 10, shuffle(files(2, (i) => `${'long-identifier-'.repeat(12)}${i}`, () => 5), 14));
add('n10-multicolumn-patch', 10, shuffle(files(3, (i) => `p${i}`, (i) => [2000, 10, 0][i]), 15));
add('n10-identifier-whitespace-inside', 10, files(2, (i) => [' leading space', 'inner  space.txt'][i], () => 8));
add('n10-oversize', 10, files(1, () => 'huge.bin', () => 2_000_000));
add('n100-mixed', 100, shuffle(files(40, (i) => `assets/${pad(i, 3)}-${['a', 'bb', 'ccc'][i % 3]}.dat`, (i) => spread(i, 50_000),
  (i) => (i % 4 === 0 ? { index: String(i), parity: i % 8 ? 'odd' : 'even' } : null)), 16));
add('n100-one-big', 100, shuffle(files(6, (i) => ['big.bin', 'a', 'b', 'c', 'd', 'e'][i], (i) => (i === 0 ? 300_000 : 50 * i)), 17));
add('n100-max-files', 100, shuffle(files(66, (i) => `f${pad(i, 2)}`, (i) => (i % 5 === 0 ? 0 : 100 + i)), 18));
add('n100-tagged-index-heavy', 100, shuffle(files(30, (i) => `doc-${pad(i, 2)}.html`, () => 64, (i) => ({
  'content-type': 'text/html', title: `Document number ${i} ${'with a long title '.repeat(8)}`,
})), 19));
add('n301-odd-n', 301, shuffle(files(25, (i) => `x${i}`, (i) => spread(i, 20_000)), 20));
add('n1000-one-file', 1000, files(1, () => 'single.bin', () => 1_000_000));
add('n1000-600x10KiB', 1000, shuffle(files(600, (i) => `file-${pad(i, 3)}.bin`, () => 10240), 21));
add('n1000-600x10KiB-tags', 1000, shuffle(files(600, (i) => `site/page-${pad(i, 3)}.html`, () => 10240,
  (i) => ({ 'content-type': 'text/html', n: String(i) })), 22));
add('n1000-max-files', 1000, shuffle(files(666, (i) => `m-${pad(i, 3)}`, (i) => (i % 10 === 0 ? 0 : spread(i, 3000)),
  (i) => (i % 3 === 0 ? { group: String(i % 7) } : null)), 23));
add('n1000-varied-big', 1000, shuffle(files(200, (i) => `v/${pad(i, 3)}`, (i) => (i === 7 ? 2_000_000 : spread(i, 60_000)),
  (i) => (i % 2 ? { 'size-class': i % 3 ? 'small' : 'large' } : null)), 24));

for (const [name, n, fs] of cases) {
  const t0 = performance.now();
  const r = row(name, n, fs);
  console.log(JSON.stringify(r));
  const what = r.error ? `error: ${r.error}` : `s=${r.symbol_size} index_columns=${r.index_columns} patches=${r.patches.length} id=${r.quilt_blob_id}`;
  console.error(`${name}: ${what} (${Math.round(performance.now() - t0)} ms)`);
}

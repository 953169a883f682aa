import { MeshidError } from '../common/errors.js';

/**
 * A strict DER reader over Buffers: every element is a view into the input, nothing is copied or
 * re-encoded, so a signature can be checked over exactly the bytes that arrived. Framing is
 * checked for the whole input first (definite, minimal lengths, one-byte tags, no trailing bytes),
 * with bounds on size and depth so hostile input cannot make it recurse or allocate without limit.
 */
export interface Der {
  /** The identifier octet: class, constructed bit and tag number. */
  tag: number;
  /** The whole element: identifier, length and content. */
  bytes: Buffer;
  content: Buffer;
}

const MAX_DER = 64 * 1024;
const MAX_DEPTH = 16;
const CONSTRUCTED = 0x20;

export function parseDer(der: Uint8Array, what: string, code: string): Der {
  if (der.length === 0) throw new MeshidError(code, `${what} is empty`);
  if (der.length > MAX_DER) throw new MeshidError(code, `${what} is larger than ${MAX_DER} bytes`);
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    checkFraming(buf, 0, buf.length, 0);
  } catch {
    throw new MeshidError(code, `${what} is not valid DER (truncated or malformed)`);
  }
  const root = elementAt(buf, 0);
  if (root.bytes.length !== buf.length) throw new MeshidError(code, `${what} is not valid DER (bytes after the end)`);
  return root;
}

/** The elements inside a constructed element (SEQUENCE, SET, constructed context tag). */
export function children(node: Der | undefined, what: string, code: string): Der[] {
  if (!node || !(node.tag & CONSTRUCTED)) throw new MeshidError(code, `${what} is not a constructed ASN.1 value`);
  const out: Der[] = [];
  for (let at = 0; at < node.content.length;) {
    const child = elementAt(node.content, at);
    out.push(child);
    at += child.bytes.length;
  }
  return out;
}

/** The content of a primitive element with the given tag. */
export function primitive(node: Der | undefined, tag: number, what: string, code: string): Buffer {
  if (!node || node.tag !== tag) throw new MeshidError(code, `${what} is not the expected ASN.1 type`);
  return node.content;
}

/** An OBJECT IDENTIFIER in dotted form. */
export function oidOf(node: Der | undefined, what: string, code: string): string {
  const raw = primitive(node, 0x06, `${what} (an object identifier)`, code);
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (value === 0 && b === 0x80) throw new MeshidError(code, `${what} is not a minimally encoded object identifier`);
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new MeshidError(code, `${what} has an object identifier arc too large`);
    if (!(b & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  if (raw.length === 0 || raw[raw.length - 1]! & 0x80) throw new MeshidError(code, `${what} is a truncated object identifier`);
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A BIT STRING's bits, which must be whole bytes (keys, signatures). */
export function bitStringBytes(node: Der | undefined, what: string, code: string): Buffer {
  const raw = primitive(node, 0x03, `${what} (a BIT STRING)`, code);
  if (raw.length < 2 || raw[0] !== 0) throw new MeshidError(code, `${what} is empty or not whole bytes`);
  return raw.subarray(1);
}

/** Framing is checked already, so lengths here are known to be minimal and in bounds. */
function elementAt(buf: Buffer, at: number): Der {
  const first = buf[at + 1]!;
  let length = first;
  let head = 2;
  if (first & 0x80) {
    length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + buf[at + 2 + i]!;
    head += first & 0x7f;
  }
  return { tag: buf[at]!, bytes: buf.subarray(at, at + head + length), content: buf.subarray(at + head, at + head + length) };
}

/** BER allows several encodings of one value (indefinite or padded lengths); DER allows one. */
function checkFraming(der: Buffer, at: number, end: number, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error('nested too deep');
  while (at < end) {
    const tag = der[at]!;
    if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte tag');
    if (at + 1 >= end) throw new Error('truncated');
    let length = der[at + 1]!;
    let head = 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      if (n === 0 || n > 3 || at + 2 + n > end || der[at + 2] === 0) throw new Error('indefinite, oversized or non-minimal length');
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + der[at + 2 + i]!;
      if (length < 0x80) throw new Error('long form for a short length');
      head += n;
    }
    const next = at + head + length;
    if (next > end) throw new Error('truncated');
    if (tag & CONSTRUCTED) checkFraming(der, at + head, next, depth + 1);
    at = next;
  }
}

/**
 * DER encoding straight into Buffers. Certificates are built per request, and an ASN.1 object
 * tree (node-forge) cost several times the signature itself; der.ts is the reading side.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One element: tag, minimal definite length, then the parts' bytes. */
export function tlv(tag: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const head = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5;
  const out = Buffer.allocUnsafe(head + length);
  out[0] = tag;
  if (head === 2) out[1] = length;
  else {
    out[1] = 0x80 | (head - 2);
    for (let i = head - 1, n = length; i >= 2; i--, n >>>= 8) out[i] = n & 0xff;
  }
  let at = head;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const sequence = (parts: readonly Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, parts);
export const setOf = (parts: readonly Uint8Array[]): Buffer => tlv(TAG.SET, parts);
export const octetString = (raw: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, [raw]);
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8, [Buffer.from(s, 'utf8')]);
export const NULL = Buffer.from([TAG.NULL, 0]);
export const TRUE = Buffer.from([TAG.BOOLEAN, 1, 0xff]);

/** [n] IMPLICIT (primitive) or EXPLICIT (constructed) context-specific tag. */
export function context(n: number, constructed: boolean, parts: readonly Uint8Array[]): Buffer {
  return tlv(0x80 | (constructed ? 0x20 : 0) | n, parts);
}

const BYTES = Array.from({ length: 8 }, (_, i) => Buffer.from([i]));

export function bitString(raw: Uint8Array, unusedBits = 0): Buffer {
  return tlv(TAG.BIT_STRING, [BYTES[unusedBits]!, raw]);
}

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded. */
export function integer(raw: Uint8Array): Buffer {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  if (i === raw.length) return tlv(TAG.INTEGER, [BYTES[0]!]);
  const magnitude = i === 0 ? raw : raw.subarray(i);
  return magnitude[0]! >= 0x80 ? tlv(TAG.INTEGER, [BYTES[0]!, magnitude]) : tlv(TAG.INTEGER, [magnitude]);
}

const oids = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted form; only this code's constants come here, so the cache stays small. */
export function oid(dotted: string): Buffer {
  let der = oids.get(dotted);
  if (!der) {
    const arcs = dotted.split('.').map(Number);
    const bytes: number[] = [];
    // The first two arcs share one subidentifier (X.690 §8.19.4).
    for (const arc of [40 * arcs[0]! + arcs[1]!, ...arcs.slice(2)]) {
      const groups = [arc & 0x7f];
      for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift(0x80 | (n & 0x7f));
      bytes.push(...groups);
    }
    der = tlv(TAG.OID, [Buffer.from(bytes)]);
    oids.set(dotted, der);
  }
  return der;
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. Whole seconds, Zulu. */
export function time(ms: number): Buffer {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const rest = [d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map(two).join('');
  if (year < 2050) return tlv(TAG.UTC_TIME, [Buffer.from(`${two(year % 100)}${rest}Z`, 'latin1')]);
  return tlv(TAG.GENERALIZED_TIME, [Buffer.from(`${String(year).padStart(4, '0')}${rest}Z`, 'latin1')]);
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

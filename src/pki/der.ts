import forge from 'node-forge';
import { MeshidError } from '../common/errors.js';

const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;
export { asn1 };

/** Depth and size bounds so hostile DER cannot make the parser recurse or allocate without limit. */
const MAX_DER = 64 * 1024;
const MAX_DEPTH = 16;

interface FromDerOptions {
  strict?: boolean;
  parseAllBytes?: boolean;
  decodeBitStrings?: boolean;
  maxDepth?: number;
}
/** @types/node-forge predates the options object that forge 1.x takes. */
const fromDer = asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: FromDerOptions) => Asn1;

/** Parses strict DER with forge, turning every failure into a MeshidError naming `what`. */
export function parseDer(der: Uint8Array, what: string, code: string): Asn1 {
  if (der.length === 0) throw new MeshidError(code, `${what} is empty`);
  if (der.length > MAX_DER) throw new MeshidError(code, `${what} is larger than ${MAX_DER} bytes`);
  try {
    return fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
      maxDepth: MAX_DEPTH,
    });
  } catch {
    throw new MeshidError(code, `${what} is not valid DER (truncated or malformed)`);
  }
}

export function toDer(obj: Asn1): Buffer {
  return Buffer.from(asn1.toDer(obj).getBytes(), 'binary');
}

/** Wraps already-encoded DER so it can sit inside a forge structure without being re-parsed each time. */
export function fromDerTrusted(der: Uint8Array): Asn1 {
  return fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')), { decodeBitStrings: false });
}

export function children(node: Asn1 | undefined, what: string, code: string): Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new MeshidError(code, `${what} is not a constructed ASN.1 value`);
  return node.value as Asn1[];
}

export function bytes(node: Asn1 | undefined, what: string, code: string): string {
  if (!node || typeof node.value !== 'string') throw new MeshidError(code, `${what} is not a primitive ASN.1 value`);
  return node.value;
}

export function oidOf(node: Asn1 | undefined, what: string, code: string): string {
  if (!node || node.type !== asn1.Type.OID || typeof node.value !== 'string') throw new MeshidError(code, `${what} is not an object identifier`);
  return asn1.derToOid(node.value);
}

export const seq = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
export const oid = (id: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
export const octets = (raw: Uint8Array): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, Buffer.from(raw).toString('binary'));
export const bool = (v: boolean): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, v ? '\xff' : '\x00');
export const nullValue = (): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
export const utf8 = (s: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(s));
export const bitString = (raw: Uint8Array, unusedBits = 0): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unusedBits) + Buffer.from(raw).toString('binary'));
export const contextTag = (n: number, constructed: boolean, value: Asn1[] | string): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, n, constructed, value);

/** A non-negative INTEGER from big-endian bytes (minimal DER encoding). */
export function integer(raw: Uint8Array): Asn1 {
  let b = Buffer.from(raw);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1]! < 0x80) i++;
  b = b.subarray(i);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, b.toString('binary'));
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 requires. Whole seconds. */
export function time(ms: number): Asn1 {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  if (d.getUTCFullYear() < 2050) return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

/** A SEQUENCE around parts that are already DER, without parsing them back into forge objects. */
export function derSequence(parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const header = n < 0x80 ? [0x30, n] : n < 0x100 ? [0x30, 0x81, n] : n < 0x10000 ? [0x30, 0x82, n >> 8, n & 0xff] : [0x30, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), body]);
}

/**
 * The bytes of the first element inside an already-parsed SEQUENCE, exactly as they arrived:
 * what a CSR's signature covers, without re-encoding it on every request.
 */
export function firstChildBytes(der: Buffer): Buffer {
  const start = afterLength(der, 1).next;
  const child = afterLength(der, start + 1);
  return der.subarray(start, child.next + child.length);
}

function afterLength(der: Buffer, at: number): { length: number; next: number } {
  const first = der[at]!;
  if (first < 0x80) return { length: first, next: at + 1 };
  let length = 0;
  for (let i = 1; i <= (first & 0x7f); i++) length = length * 256 + der[at + i]!;
  return { length, next: at + 1 + (first & 0x7f) };
}

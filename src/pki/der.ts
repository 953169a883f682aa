import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import util from 'node-forge/lib/util.js';
import { MeshidError } from '../common/errors.js';

// Only forge's ASN.1 layer and the util it rests on: the whole package (pki, tls, ciphers) would be loaded
// into every agent for nothing, ~1.7 MB of RSS in a process that must stay under 60 MB.
export type Asn1 = forge.asn1.Asn1;
export { asn1 };

/** Depth and size bounds so hostile DER cannot make the parser recurse or allocate without limit. */
const MAX_DER = 64 * 1024;
const MAX_DEPTH = 16;
const CONSTRUCTED = 0x20;

interface FromDerOptions {
  strict?: boolean;
  parseAllBytes?: boolean;
  decodeBitStrings?: boolean;
  maxDepth?: number;
}
/** @types/node-forge predates the options object that forge 1.x takes. */
const fromDer = asn1.fromDer as unknown as (bytes: string, options: FromDerOptions) => Asn1;

/**
 * Parses strict DER with forge and refuses anything that is not the one DER encoding of its value.
 * forge reads BER framing (indefinite and non-minimal lengths, padded integers) even when strict;
 * DER encodings are unique, so forge's re-encoding of what it parsed must give back the input.
 */
export function parseDer(der: Uint8Array, what: string, code: string): Asn1 {
  const node = parseStrict(der, what, code);
  if (!toDer(node).equals(der)) throw notDer(what, code);
  return node;
}

/**
 * parseDer for a SEQUENCE whose elements are needed as they arrived, such as a CSR's signed
 * request info: each element is encoded once for the canonical check, and its bytes are handed out
 * as views into the input instead of being encoded again where they are used.
 */
export function parseDerSequence(der: Buffer, what: string, code: string): { elements: Asn1[]; bytes: Buffer[] } {
  const node = parseStrict(der, what, code);
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.SEQUENCE || !Array.isArray(node.value)) {
    throw new MeshidError(code, `${what} is not a SEQUENCE`);
  }
  const encoded = node.value.map(toDer);
  if (!frame(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, encoded).equals(der)) throw notDer(what, code);
  // The input equals the frame around the elements' encodings, so they sit at its end in order.
  let at = der.length - encoded.reduce((n, e) => n + e.length, 0);
  const bytes = encoded.map((e) => der.subarray(at, (at += e.length)));
  return { elements: node.value, bytes };
}

function parseStrict(der: Uint8Array, what: string, code: string): Asn1 {
  if (der.length === 0) throw new MeshidError(code, `${what} is empty`);
  if (der.length > MAX_DER) throw new MeshidError(code, `${what} is larger than ${MAX_DER} bytes`);
  try {
    return fromDer(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('binary'), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
      maxDepth: MAX_DEPTH,
    });
  } catch {
    throw notDer(what, code);
  }
}

function notDer(what: string, code: string): MeshidError {
  return new MeshidError(code, `${what} is not valid DER (truncated, malformed or not in its one DER encoding)`);
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/**
 * A constructed element around parts that are DER already (pre-encoded once per signer or kind, or
 * encoded by forge for this request): forge writes the identifier and length, the parts go in as
 * bytes. forge sets the constructed bit only for a value of child objects, so it rides on the type.
 */
export function frame(tagClass: forge.asn1.Class, type: number, parts: readonly Buffer[]): Buffer {
  const node = asn1.create(tagClass, (type | CONSTRUCTED) as forge.asn1.Type, false, Buffer.concat(parts).toString('binary'));
  return toDer(node);
}

export const sequenceOf = (parts: readonly Buffer[]): Buffer => frame(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, parts);

export function children(node: Asn1 | undefined, what: string, code: string): Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new MeshidError(code, `${what} is not a constructed ASN.1 value`);
  return node.value;
}

/** The content of a primitive element of the given universal type, as bytes. */
export function primitive(node: Asn1 | undefined, type: forge.asn1.Type, what: string, code: string): Buffer {
  if (!node || node.tagClass !== asn1.Class.UNIVERSAL || node.type !== type || typeof node.value !== 'string') {
    throw new MeshidError(code, `${what} is not the expected ASN.1 type`);
  }
  return Buffer.from(node.value, 'binary');
}

export function oidOf(node: Asn1 | undefined, what: string, code: string): string {
  if (!node || node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.OID || typeof node.value !== 'string') {
    throw new MeshidError(code, `${what} is not an object identifier`);
  }
  return asn1.derToOid(node.value);
}

/** A BIT STRING's bits, which must be whole bytes (keys, signatures). */
export function bitStringBytes(node: Asn1 | undefined, what: string, code: string): Buffer {
  const raw = primitive(node, asn1.Type.BITSTRING, `${what} (a BIT STRING)`, code);
  if (raw.length < 2 || raw[0] !== 0) throw new MeshidError(code, `${what} is empty or not whole bytes`);
  return raw.subarray(1);
}

// Builders for the elements encoded per request or once per signer; forge does the encoding.
export const seq = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
export const oid = (id: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
export const octets = (raw: Uint8Array): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, binary(raw));
export const bool = (v: boolean): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, v ? '\xff' : '\x00');
export const nullValue = (): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
export const utf8 = (s: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, util.encodeUtf8(s));
export const bitString = (raw: Uint8Array, unusedBits = 0): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unusedBits) + binary(raw));
export const contextTag = (n: number, constructed: boolean, value: Asn1[] | string): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, n as forge.asn1.Type, constructed, value);

/** A non-negative INTEGER from big-endian magnitude bytes: leading zeros dropped, a 0x00 kept where the sign needs it. */
export function integer(raw: Uint8Array): Asn1 {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const magnitude = raw.length === 0 ? '\x00' : binary(raw.subarray(i));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, magnitude.charCodeAt(0) >= 0x80 ? `\x00${magnitude}` : magnitude);
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. Whole seconds, Zulu. */
export function time(ms: number): Asn1 {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  if (d.getUTCFullYear() < 2050) return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function binary(raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('binary');
}

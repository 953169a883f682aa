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
    checkDerFraming(der, 0, der.length, 0);
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

/**
 * forge accepts BER framing (indefinite and non-minimal lengths) even when strict; DER allows one
 * encoding of each value, so anything else is refused here, before forge sees it.
 */
function checkDerFraming(der: Uint8Array, at: number, end: number, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error('nested too deep');
  while (at < end) {
    const tag = der[at]!;
    if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte tag');
    let length = der[at + 1] ?? 0x80;
    let head = 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      if (n === 0 || n > 3 || der[at + 2] === 0) throw new Error('indefinite or non-minimal length');
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + (der[at + 2 + i] ?? 0);
      if (length < 0x80) throw new Error('long form for a short length');
      head += n;
    }
    const next = at + head + length;
    if (next > end) throw new Error('truncated');
    if (tag & 0x20) checkDerFraming(der, at + head, next, depth + 1);
    at = next;
  }
}

export function toDer(obj: Asn1): Buffer {
  return Buffer.from(asn1.toDer(obj).getBytes(), 'binary');
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

import { MeshidError } from '../common/errors.js';

// Greedy is safe and cheaper than lazy: the body's characters never include the '-' that ends it.
const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([A-Za-z0-9+/=\s]*)-----END \1-----/g;
const MAX_PEM_TEXT = 256 * 1024;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/**
 * Every PEM block in `text`, in order. Refuses oversized input, and text that holds no block or
 * non-base64 bytes between the markers, with an error that names `what` but never echoes the text.
 */
export function decodePemBlocks(text: string, what: string, maxBytes = MAX_PEM_TEXT): PemBlock[] {
  if (typeof text !== 'string' || text.length === 0) throw new MeshidError('invalid_pem', `${what} is empty`);
  if (text.length > maxBytes) throw new MeshidError('invalid_pem', `${what} is larger than ${maxBytes} bytes`);
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.replace(/\s+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || /=[^=]/.test(body)) {
      throw new MeshidError('invalid_pem', `${what}: the ${m[1]} block is not valid base64`);
    }
    blocks.push({ label: m[1]!, der: Buffer.from(body, 'base64') });
  }
  if (blocks.length === 0) throw new MeshidError('invalid_pem', `${what} holds no PEM block`);
  return blocks;
}

/** Exactly one block with one of the given labels. */
export function decodePem(text: string, labels: readonly string[], what: string): Buffer {
  const blocks = decodePemBlocks(text, what);
  if (blocks.length !== 1) throw new MeshidError('invalid_pem', `${what} must hold exactly one PEM block, found ${blocks.length}`);
  const [block] = blocks as [PemBlock];
  if (!labels.includes(block.label)) {
    throw new MeshidError('invalid_pem', `${what} is a "${block.label}" block; expected ${labels.map((l) => `"${l}"`).join(' or ')}`);
  }
  return block.der;
}

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Certificates from a PEM bundle, in order; any non-certificate block is refused. */
export function decodeCertificates(text: string, what: string): Buffer[] {
  return decodePemBlocks(text, what).map((b) => {
    if (b.label !== 'CERTIFICATE') throw new MeshidError('invalid_pem', `${what} holds a "${b.label}" block; only certificates belong here`);
    return b.der;
  });
}

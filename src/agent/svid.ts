import { X509Certificate, type KeyObject } from 'node:crypto';
import { MeshidError } from '../common/errors.js';
import { decodeCertificates, encodePem } from '../pki/pem.js';

/** An X.509 SVID with its private key and the trust bundle it came with. */
export interface Svid {
  spiffeId: string;
  /** Leaf first, then intermediates, each one PEM block. */
  chainPem: string[];
  keyPem: string;
  /** Every trusted root, each one PEM block. */
  bundlePem: string[];
  notBefore: number;
  notAfter: number;
  /** When the agent received it: the renewal schedule counts from here, since the CA backdates notBefore. */
  obtainedAt: number;
  /** When the request was sent: a bundle the mounted file showed after that is newer than the one this answer carries. */
  requestedAt: number;
}

export interface IssuedResponse {
  certChain: unknown;
  trustBundle: unknown;
}

const CODE = 'invalid_ca_response';

/**
 * Checks what the CA sent before the agent trusts it: the leaf names exactly our SPIFFE ID, carries our
 * public key, is valid now, and chains through the intermediates to a root of the returned bundle.
 */
export function verifyIssued(
  res: IssuedResponse,
  expected: { spiffeId: string; publicKey: KeyObject; keyPem: string; now: number; requestedAt?: number },
): Svid {
  const chain = pemList(res.certChain, 'certChain').map((pem) => parseCert(pem, 'certChain'));
  const roots = pemList(res.trustBundle, 'trustBundle').map((pem) => parseCert(pem, 'trustBundle'));
  const leaf = chain[0]!;
  const uris = uriSans(leaf);
  if (uris.length !== 1 || uris[0] !== expected.spiffeId) {
    throw new MeshidError('wrong_identity', `the CA issued a certificate for ${uris.join(', ') || 'no SPIFFE ID'}, expected ${expected.spiffeId}`);
  }
  if (!leaf.publicKey.equals(expected.publicKey)) throw new MeshidError(CODE, 'the issued certificate does not carry the public key of our CSR');
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (notAfter <= expected.now) throw new MeshidError('expired_certificate', `the CA issued a certificate that expired at ${leaf.validTo}`);
  if (notBefore > expected.now) throw new MeshidError(CODE, `the issued certificate is not valid before ${leaf.validFrom}; check the clocks`);
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.verify(chain[i + 1]!.publicKey)) throw new MeshidError(CODE, `certificate ${i} of certChain is not signed by certificate ${i + 1}`);
  }
  const top = chain[chain.length - 1]!;
  if (!roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey))) {
    throw new MeshidError('untrusted_chain', 'the issued chain does not lead to any root of the returned trust bundle');
  }
  return {
    spiffeId: expected.spiffeId,
    chainPem: chain.map((c) => encodePem('CERTIFICATE', c.raw)),
    keyPem: expected.keyPem,
    bundlePem: roots.map((c) => encodePem('CERTIFICATE', c.raw)),
    notBefore,
    notAfter,
    obtainedAt: expected.now,
    requestedAt: expected.requestedAt ?? expected.now,
  };
}

export function uriSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** Parses a PEM bundle into one PEM string per certificate; garbage is an error naming `what`. */
export function splitCertificates(text: string, what: string): string[] {
  return decodeCertificates(text, what).map((der) => {
    parseCert(der, what);
    return encodePem('CERTIFICATE', der);
  });
}

function pemList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 16 || !value.every((v) => typeof v === 'string')) {
    throw new MeshidError(CODE, `${field} must be a non-empty list of PEM certificates`);
  }
  return value.flatMap((pem: string) => decodeCertificates(pem, field).map((der) => encodePem('CERTIFICATE', der)));
}

function parseCert(pemOrDer: string | Buffer, field: string): X509Certificate {
  try {
    return new X509Certificate(pemOrDer);
  } catch {
    throw new MeshidError(CODE, `${field} holds something that is not an X.509 certificate`);
  }
}

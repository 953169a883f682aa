import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { MeshidError } from '../common/errors.js';
import { selfSign, signCertificate, signerFor, subjectKeyOf, type Signer } from '../pki/certificate.js';
import { generateKeyPair, privateKeyPem, type KeyAlgorithm } from '../pki/keys.js';
import { decodeCertificates, decodePem, encodePem } from '../pki/pem.js';
import { rootCaTemplate, serialFrom, signingCaTemplate } from '../pki/templates.js';
import { loadJwtKeys, newJwtSigningKeyPem, type JwtKeys } from './jwt/keys.js';
import { JWT_FILES, PLUGIN_FILES, type CaFiles } from './store.js';

/** The CA that signs right now, and the roots every workload must trust. */
export interface CaMaterial {
  signer: Signer;
  signingCert: X509Certificate;
  /** Certificates a leaf's chain carries after the leaf: the signing CA and any intermediates, no root. */
  chain: string[];
  /** The trust bundle: every root currently trusted, PEM, oldest first. */
  roots: string[];
  rootCerts: X509Certificate[];
  /** Null only for a set without a JWT key that this process may not add one to (it then issues no JWT-SVIDs). */
  jwt: JwtKeys | null;
}

export interface NewCaOptions {
  trustDomain: string;
  now: number;
  random: (n: number) => Buffer;
  keyAlgorithm?: KeyAlgorithm;
  rootTtlMs?: number;
  signingTtlMs?: number;
}

const TEN_YEARS = 10 * 365 * 86_400_000;

/** A fresh self-signed root and a signing CA under it, as plug-in layout files, and a JWT signing key of their own. */
export function createCaFiles(o: NewCaOptions): Record<string, string> {
  const label = new Date(o.now).toISOString().slice(0, 19).replace(/[-:T]/g, '') + '-' + o.random(3).toString('hex');
  const rootKey = generateKeyPair(o.keyAlgorithm);
  const root = selfSign(
    rootCaTemplate({ now: o.now, ttlMs: o.rootTtlMs ?? TEN_YEARS, serial: serialFrom(o.random(16)), trustDomain: o.trustDomain, label }),
    rootKey.privateKey,
    rootKey.publicKey,
  );
  const rootSigner = signerFor(root, rootKey.privateKey);
  const signingKey = generateKeyPair(o.keyAlgorithm);
  const signing = signCertificate(
    signingCaTemplate({
      now: o.now,
      ttlMs: o.signingTtlMs ?? TEN_YEARS,
      serial: serialFrom(o.random(16)),
      trustDomain: o.trustDomain,
      label,
      issuerNotAfter: rootSigner.notAfter,
    }),
    subjectKeyOf(signingKey.publicKey),
    rootSigner,
  );
  const rootPem = encodePem('CERTIFICATE', root);
  const signingPem = encodePem('CERTIFICATE', signing);
  return {
    [PLUGIN_FILES.signingCert]: signingPem,
    [PLUGIN_FILES.signingKey]: privateKeyPem(signingKey.privateKey),
    [PLUGIN_FILES.chain]: signingPem + rootPem,
    [PLUGIN_FILES.roots]: rootPem,
    [JWT_FILES.signingKey]: newJwtSigningKeyPem(),
  };
}

/**
 * Loads and checks the plug-in layout: the key matches the signing certificate, the signing
 * certificate may sign, and its chain leads to a root in the bundle. Errors name the file.
 */
export function loadCaMaterial(files: CaFiles, now: number): CaMaterial {
  const missing = Object.values(PLUGIN_FILES).filter((n) => !files[n]);
  if (missing.length > 0) throw new MeshidError('ca_incomplete', `CA material is missing ${missing.join(', ')}`, 503);

  const signingCert = certificate(files[PLUGIN_FILES.signingCert]!, PLUGIN_FILES.signingCert);
  const key = privateKey(files[PLUGIN_FILES.signingKey]!);
  if (!signingCert.checkPrivateKey(key)) throw invalid(`${PLUGIN_FILES.signingKey} does not match ${PLUGIN_FILES.signingCert}`);
  if (!signingCert.ca) throw invalid(`${PLUGIN_FILES.signingCert} is not a CA certificate (basicConstraints CA:true)`);
  if (Date.parse(signingCert.validTo) <= now) throw invalid(`${PLUGIN_FILES.signingCert} expired on ${signingCert.validTo}`);

  const rootCerts = decodeCertificates(files[PLUGIN_FILES.roots]!, PLUGIN_FILES.roots).map((der) => new X509Certificate(der));
  const chainCerts = decodeCertificates(files[PLUGIN_FILES.chain]!, PLUGIN_FILES.chain).map((der) => new X509Certificate(der));
  const chain = chainCerts.filter((c) => !isSelfSigned(c));
  if (chain.length === 0 || chain[0]!.fingerprint256 !== signingCert.fingerprint256) {
    if (!isSelfSigned(signingCert)) chain.unshift(signingCert);
  }
  verifyChain(signingCert, chain.slice(1), rootCerts);

  return {
    signer: signerFor(signingCert.raw, key),
    signingCert,
    chain: chain.map((c) => encodePem('CERTIFICATE', c.raw)),
    roots: rootCerts.map((c) => encodePem('CERTIFICATE', c.raw)),
    rootCerts,
    jwt: loadJwtKeys(files),
  };
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

/** Walks signing cert → intermediates → some root in the bundle, checking each signature. */
function verifyChain(signing: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): void {
  let current = signing;
  for (let depth = 0; depth < 8; depth++) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) return;
    const next = intermediates.find((c) => current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    current = next;
  }
  throw invalid(`${PLUGIN_FILES.signingCert} does not chain to any root in ${PLUGIN_FILES.roots} (through ${PLUGIN_FILES.chain})`);
}

function certificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(decodePem(pem, ['CERTIFICATE'], file));
  } catch (err) {
    if (err instanceof MeshidError) throw invalid(err.message);
    throw invalid(`${file} is not a valid X.509 certificate`);
  }
}

function privateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw invalid(`${PLUGIN_FILES.signingKey} is not a readable private key (PKCS#8, PKCS#1 or SEC1 PEM, unencrypted)`);
  }
}

function invalid(message: string): MeshidError {
  return new MeshidError('ca_invalid', message, 503);
}

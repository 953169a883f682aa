import { createPrivateKey } from 'node:crypto';
import { decodeCertificates, decodePem } from '../pki/pem.js';
import type { Svid } from './svid.js';
import type { SvidStore } from './svid-store.js';
import type { X509BundlesResponse, X509SvidResponse } from './workload-protos.js';

/** A stream message with the version of what it carries, so a stream never gets the same one twice. */
export interface Versioned<T> {
  version: string;
  message: T;
}

/** PEM certificates as the Workload API wants them: their DER, concatenated. */
export function concatenatedDer(pems: string[], what: string): Buffer {
  return Buffer.concat(pems.flatMap((p) => decodeCertificates(p, what)));
}

/** The key as unencrypted PKCS#8 DER, whatever PEM form it is held in. */
export function pkcs8Der(keyPem: string): Buffer {
  if (keyPem.includes('-----BEGIN PRIVATE KEY-----')) return decodePem(keyPem, ['PRIVATE KEY'], 'the SVID key');
  return createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
}

/** X509SVIDResponse: one SVID (leaf first, then intermediates), its key, and the trust domain's roots. */
export function x509SvidResponse(svid: Svid, roots: string[]): X509SvidResponse {
  return {
    svids: [{
      spiffe_id: svid.spiffeId,
      x509_svid: concatenatedDer(svid.chainPem, 'the SVID chain'),
      x509_svid_key: pkcs8Der(svid.keyPem),
      bundle: concatenatedDer(roots, 'the trust bundle'),
    }],
  };
}

/** X509BundlesResponse: the roots, keyed by the trust domain's SPIFFE ID (spiffe://<td>). */
export function x509BundlesResponse(trustDomainId: string, roots: string[]): X509BundlesResponse {
  return { bundles: { [trustDomainId]: concatenatedDer(roots, 'the trust bundle') } };
}

/**
 * The current messages, built once per store version and shared by every stream: a thousand open
 * streams cost one encoding per rotation, not a thousand.
 */
export class X509Messages {
  private svidCache: Versioned<X509SvidResponse> | null = null;
  private bundleCache: Versioned<X509BundlesResponse> | null = null;

  constructor(private readonly store: SvidStore, private readonly trustDomainId: string) {}

  svid(): Versioned<X509SvidResponse> | null {
    const svid = this.store.current();
    const roots = this.store.roots();
    if (!svid || roots.length === 0) return null;
    const version = `${this.store.svidVersion()}.${this.store.bundleVersion()}`;
    if (this.svidCache?.version !== version) this.svidCache = { version, message: x509SvidResponse(svid, roots) };
    return this.svidCache;
  }

  bundles(): Versioned<X509BundlesResponse> | null {
    const roots = this.store.roots();
    if (roots.length === 0) return null;
    const version = this.store.bundleVersion();
    if (this.bundleCache?.version !== version) this.bundleCache = { version, message: x509BundlesResponse(this.trustDomainId, roots) };
    return this.bundleCache;
  }
}

import type { SvidStore } from './svid-store.js';
import type { SecretMessage } from './sds-protos.js';

/** The two resource names Envoy asks for, as Istio's agent names them. */
export const DEFAULT_SECRET = 'default';
export const ROOT_SECRET = 'ROOTCA';

export interface VersionedSecret {
  version: string;
  secret: SecretMessage;
}

/** The Secret for `name` as it stands now, or null when there is none to give (unknown name, no valid SVID). */
export function buildSecret(name: string, store: SvidStore): VersionedSecret | null {
  if (name === DEFAULT_SECRET) {
    const svid = store.current();
    if (!svid) return null;
    return {
      version: store.svidVersion(),
      secret: {
        name,
        tls_certificate: {
          certificate_chain: { inline_bytes: Buffer.from(svid.chainPem.join('')) },
          private_key: { inline_bytes: Buffer.from(svid.keyPem) },
        },
      },
    };
  }
  if (name === ROOT_SECRET) {
    const roots = store.roots();
    if (roots.length === 0) return null;
    return { version: store.bundleVersion(), secret: { name, validation_context: { trusted_ca: { inline_bytes: Buffer.from(roots.join('')) } } } };
  }
  return null;
}

export function isKnownSecret(name: string): boolean {
  return name === DEFAULT_SECRET || name === ROOT_SECRET;
}

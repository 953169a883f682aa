import { X509Certificate } from 'node:crypto';
import { decodeCertificates } from '../../pki/pem.js';
import { PLUGIN_FILES, type CaFiles } from '../store.js';
import { bundleCerts } from './state.js';

/** The root the active signing CA chains to: the one a scheduled rotation replaces. */
export function activeRoot(files: CaFiles): X509Certificate | null {
  const roots = bundleCerts(files[PLUGIN_FILES.roots]);
  const chainPem = files[PLUGIN_FILES.chain] ?? files[PLUGIN_FILES.signingCert];
  if (!chainPem) return null;
  const chain = decodeCertificates(chainPem, PLUGIN_FILES.chain).map((der) => new X509Certificate(der));
  for (const cert of chain.reverse()) {
    const root = roots.find((r) => r.fingerprint256 === cert.fingerprint256 || (cert.checkIssued(r) && cert.verify(r.publicKey)));
    if (root) return root;
  }
  return null;
}

/**
 * When a rotation should start on its own: once the active root has lived `fraction` of its life
 * (0.8 leaves a fifth of it for the rotation to finish, which takes about one max workload TTL).
 * Null when scheduling is off or no root can be found.
 */
export function scheduledRotationAt(files: CaFiles, fraction: number | null): number | null {
  if (fraction === null) return null;
  const root = activeRoot(files);
  if (!root) return null;
  const from = Date.parse(root.validFrom);
  const to = Date.parse(root.validTo);
  return from + Math.floor((to - from) * fraction);
}

/** The life span of the active root, which a new root inherits unless configured otherwise. */
export function rootLifetimeMs(files: CaFiles): number | undefined {
  const root = activeRoot(files);
  return root ? Date.parse(root.validTo) - Date.parse(root.validFrom) : undefined;
}

import { decodeCertificates, encodePem } from '../pki/pem.js';
import { PLUGIN_FILES } from './store.js';

/**
 * The trust bundle as meshid publishes it: each root re-encoded, in order. A plug-in root-cert.pem
 * may carry comments or CRLFs; comparing canonical forms keeps the published copy from flapping
 * between two spellings of the same roots. Null when the text holds no certificate.
 */
export function canonicalBundle(pem: string): string | null {
  try {
    return decodeCertificates(pem, PLUGIN_FILES.roots).map((der) => encodePem('CERTIFICATE', der)).join('');
  } catch {
    return null;
  }
}

import type { X509Certificate } from 'node:crypto';
import type { CaMaterial } from './material.js';
import { caStatusRows, type PublicationProgress, type RotationStatus } from './status.js';

/**
 * `meshid ca status -o json|yaml`: field names are a contract with scripts (README, "Output for scripts");
 * add fields, never rename or remove one. Times are RFC 3339.
 */
export interface CaStatusReport {
  store: string;
  certificates: Array<{
    role: 'root' | 'signing';
    subject: string;
    notBefore: string;
    notAfter: string;
    fingerprintSha256: string;
    /** Roots: whether the signing CA chains to it. */
    active: boolean;
    expired: boolean;
    state: string;
  }>;
  /** The JWT-SVID signing keys published in the JWKS: which signs now, which is staged, which stays until retire. */
  jwtKeys: Array<{ kid: string; state: string }>;
  rotation: {
    phase: RotationStatus['phase'];
    id: string | null;
    waitingFor: string;
    until: string | null;
    /** Once activated: when the old root is expected to leave the bundle. */
    retireExpectedAt: string | null;
    /** Cluster mode, while the phase waits for the bundle to reach every namespace. */
    publication: PublicationProgress | null;
  };
}

export function caStatusReport(store: string, m: CaMaterial, rotation: RotationStatus, now: number, publication?: PublicationProgress): CaStatusReport {
  const all = caStatusRows(m, now);
  const rows = all.filter((r) => r.role !== 'jwt');
  const certs: X509Certificate[] = [...m.rootCerts, m.signingCert];
  const { kid, nextKid, previousKid } = m.jwt ?? {};
  return {
    store,
    jwtKeys: [
      ...(kid ? [{ kid, state: 'published, signing' }] : []),
      ...(nextKid ? [{ kid: nextKid, state: 'published, signs from activate' }] : []),
      ...(previousKid ? [{ kid: previousKid, state: 'published until retire' }] : []),
    ],
    certificates: rows.map((row, i) => ({
      role: row.role === 'root' ? 'root' : 'signing',
      subject: row.subject,
      notBefore: new Date(certs[i]!.validFrom).toISOString(),
      notAfter: row.notAfter,
      fingerprintSha256: certs[i]!.fingerprint256,
      active: row.role === 'signing' || row.state.includes('active'),
      expired: Date.parse(row.notAfter) <= now,
      state: row.state,
    })),
    rotation: {
      phase: rotation.phase,
      id: rotation.id ?? null,
      waitingFor: rotation.waitingFor,
      until: rotation.until === null ? null : new Date(rotation.until).toISOString(),
      retireExpectedAt: rotation.retireAt === undefined ? null : new Date(rotation.retireAt).toISOString(),
      publication: publication ?? null,
    },
  };
}

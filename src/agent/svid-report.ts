import { X509Certificate } from 'node:crypto';
import { decodeCertificates } from '../pki/pem.js';
import { CLOCK_SKEW_MS } from '../pki/templates.js';
import { DEFAULT_RENEWAL, renewalTime } from './rotation.js';
import { uriSans } from './svid.js';

interface CertSummary {
  subject: string;
  issuer: string;
  notAfter: string;
  fingerprintSha256: string;
}

/**
 * `meshid svid show -o json|yaml`: field names are a contract with scripts (README, "Output for scripts");
 * add fields, never rename or remove one. Times are RFC 3339; the private key is never part of it.
 */
export interface SvidReport {
  source: string;
  spiffeId: string | null;
  serial: string;
  notBefore: string;
  notAfter: string;
  expired: boolean;
  /** When an agent with the default renewal policy renews it: half its life, ± a tenth, from issuance. */
  renewal: { earliest: string; latest: string };
  intermediates: CertSummary[];
  /** The bundle root the chain verifies up to; null when it reaches none (a trust break). */
  chainsTo: CertSummary | null;
  trustBundle: CertSummary[];
}

const certs = (pem: string, what: string) => decodeCertificates(pem, what).map((der) => new X509Certificate(der));
const iso = (t: string | number) => new Date(t).toISOString();
const summary = (c: X509Certificate): CertSummary => ({
  subject: c.subject.split('\n').join(', '), issuer: c.issuer.split('\n').join(', '), notAfter: iso(c.validTo), fingerprintSha256: c.fingerprint256,
});

/** From the chain (leaf first) and the trust bundle as the agent hands them out; throws naming a broken input. */
export function svidReport(source: string, chainPem: string, bundlePem: string, now: number): SvidReport {
  const [leaf, ...intermediates] = certs(chainPem, `${source}: the certificate chain`);
  if (!leaf) throw new Error(`${source}: the certificate chain holds no certificate`);
  const roots = certs(bundlePem, `${source}: the trust bundle`);
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  // The CA backdates notBefore for clock skew; the agent received the SVID about that much later.
  const obtainedAt = notBefore + CLOCK_SKEW_MS;
  const root = chainRoot([leaf, ...intermediates], roots);
  return {
    source,
    spiffeId: uriSans(leaf).find((u) => u.startsWith('spiffe://')) ?? null,
    serial: leaf.serialNumber.toLowerCase(),
    notBefore: iso(notBefore),
    notAfter: iso(notAfter),
    expired: notAfter <= now,
    renewal: {
      earliest: iso(renewalTime({ notBefore, notAfter, obtainedAt }, 0, DEFAULT_RENEWAL)),
      latest: iso(renewalTime({ notBefore, notAfter, obtainedAt }, 1, DEFAULT_RENEWAL)),
    },
    intermediates: intermediates.map(summary),
    chainsTo: root ? summary(root) : null,
    trustBundle: roots.map(summary),
  };
}

/** Each certificate signed by the next, the last by a bundle root (or itself one). */
function chainRoot(chain: X509Certificate[], roots: X509Certificate[]): X509Certificate | null {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!signedBy(chain[i]!, chain[i + 1]!)) return null;
  }
  const top = chain[chain.length - 1]!;
  return roots.find((r) => r.fingerprint256 === top.fingerprint256 || signedBy(top, r)) ?? null;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function left(ms: number): string {
  if (ms <= 0) return 'now';
  const m = Math.floor(ms / 60_000);
  return m >= 60 ? `in ${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `in ${m}m`;
}

export function formatSvidReport(r: SvidReport, now: number): string {
  const lines = [
    `SPIFFE ID:    ${r.spiffeId ?? '(none)'}`,
    `serial:       ${r.serial}`,
    `valid:        ${r.notBefore} to ${r.notAfter}${r.expired ? ' (EXPIRED)' : ` (expires ${left(Date.parse(r.notAfter) - now)})`}`,
    `renewal:      between ${r.renewal.earliest} and ${r.renewal.latest} (${left(Date.parse(r.renewal.earliest) - now)}, default policy)`,
    ...r.intermediates.map((c) => `intermediate: ${c.subject} (until ${c.notAfter}, ${c.fingerprintSha256.slice(0, 23)})`),
    `chains to:    ${r.chainsTo ? `${r.chainsTo.subject} (${r.chainsTo.fingerprintSha256.slice(0, 23)})` : 'NO ROOT OF THE BUNDLE: peers will not trust it'}`,
    ...r.trustBundle.map((c, i) => `${i === 0 ? 'bundle roots: ' : '              '}${c.subject} (until ${c.notAfter}, ${c.fingerprintSha256.slice(0, 23)})`),
    `source:       ${r.source}`,
  ];
  return `${lines.join('\n')}\n`;
}

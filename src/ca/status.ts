import { X509Certificate } from 'node:crypto';
import type { CaMaterial } from './material.js';
import { parseRotationState, RotationStateError, type Phase } from './rotation/state.js';
import type { CaFiles } from './store.js';

export interface CaStatusRow {
  role: 'root' | 'signing' | 'intermediate' | 'jwt';
  subject: string;
  notAfter: string;
  fingerprint: string;
  state: string;
}

/** What an operator wants to see at a glance: each trusted root, which CA signs, and when each expires. */
export function caStatusRows(m: CaMaterial, now: number): CaStatusRow[] {
  const activeRoot = m.rootCerts.find((r) => chainsTo(m, r));
  const rows: CaStatusRow[] = m.rootCerts.map((r) => ({
    role: 'root',
    subject: oneLine(r.subject),
    notAfter: new Date(r.validTo).toISOString(),
    fingerprint: r.fingerprint256.slice(0, 23),
    state: expiryState(r, now, r === activeRoot ? 'trusted, active' : 'trusted'),
  }));
  rows.push({
    role: 'signing',
    subject: oneLine(m.signingCert.subject),
    notAfter: new Date(m.signingCert.validTo).toISOString(),
    fingerprint: m.signingCert.fingerprint256.slice(0, 23),
    state: expiryState(m.signingCert, now, 'signing'),
  });
  return [...rows, ...jwtRows(m)];
}

/** JWT keys do not expire; what matters is which one signs and which are only published. */
function jwtRows(m: CaMaterial): CaStatusRow[] {
  if (!m.jwt) return [{ role: 'jwt', subject: 'JWT-SVID key', notAfter: '-', fingerprint: '-', state: 'none: JWT-SVIDs are not served' }];
  const { kid, nextKid, previousKid } = m.jwt;
  const row = (id: string, state: string): CaStatusRow => ({ role: 'jwt', subject: 'JWT-SVID key (ES256)', notAfter: '-', fingerprint: id.slice(0, 23), state });
  return [
    row(kid, 'published, signing'),
    ...(nextKid ? [row(nextKid, 'published, signs from activate')] : []),
    ...(previousKid ? [row(previousKid, 'published until retire')] : []),
  ];
}

export function formatTable(rows: Array<Record<string, string>>): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]!);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(keys.map((k) => k.toUpperCase())), ...rows.map((r) => line(keys.map((k) => r[k] ?? '')))].join('\n') + '\n';
}

/** The root that the top of the signing chain was issued by (or the signing cert itself, if it is a root). */
function chainsTo(m: CaMaterial, root: X509Certificate): boolean {
  const top = m.chain.length > 0 ? new X509Certificate(m.chain[m.chain.length - 1]!) : m.signingCert;
  return top.fingerprint256 === root.fingerprint256 || (top.checkIssued(root) && top.verify(root.publicKey));
}

function expiryState(cert: X509Certificate, now: number, state: string): string {
  const left = Date.parse(cert.validTo) - now;
  if (left <= 0) return `${state}, EXPIRED`;
  return `${state}, ${Math.floor(left / 86_400_000)}d left`;
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

export interface RotationStatus {
  phase: Phase | 'error';
  id?: string;
  /** What the phase waits for, in words. */
  waitingFor: string;
  /** When the wait ends, if it is a matter of time; ms since epoch. */
  until: number | null;
  /** Once activated: when the old root leaves the bundle (its CA's last recorded leaf has expired, plus a margin). */
  retireAt?: number;
}

/** The rotation as an operator reads it. Reads only the stored files: deadlines are recorded in rotation.json. */
export function rotationStatus(files: CaFiles): RotationStatus {
  let s;
  try {
    s = parseRotationState(files);
  } catch (err) {
    if (err instanceof RotationStateError) return { phase: 'error', waitingFor: err.message, until: null };
    throw err;
  }
  const base = { phase: s.phase, id: s.id };
  switch (s.phase) {
    case 'idle':
      return { ...base, waitingFor: s.completedAt ? `last rotation completed ${new Date(s.completedAt).toISOString()}` : 'no rotation has run', until: null };
    case 'requested':
      return { ...base, waitingFor: 'the control plane (meshid serve) to pick the request up', until: null };
    case 'prepare':
      return s.activateAt === undefined
        ? { ...base, waitingFor: 'the trust bundle with the new root to be published everywhere', until: null }
        : { ...base, waitingFor: 'the bundle propagation delay, then the new CA signs', until: s.activateAt };
    case 'activate':
      return { ...base, waitingFor: 'leaves signed by the old CA to expire, then the old root is retired', until: s.retireAt ?? null, retireAt: s.retireAt };
    case 'retire':
      return { ...base, waitingFor: 'the trust bundle without the old root to be published everywhere', until: null };
  }
}

/** How many namespaces hold the stored trust bundle (cluster mode), while a phase waits for that. */
export interface PublicationProgress {
  published: number;
  namespaces: number;
}

/** Whether the rotation waits for the stored bundle to reach every namespace (then the count is worth showing). */
export function awaitsPublication(r: RotationStatus): boolean {
  return (r.phase === 'prepare' || r.phase === 'retire') && r.until === null;
}

export function formatRotationStatus(r: RotationStatus, now: number, publication?: PublicationProgress): string {
  const left = r.until === null ? '' : `, ${formatLeft(r.until - now)} left`;
  const reached = publication ? ` (${publication.published}/${publication.namespaces} namespaces have it)` : '';
  const retire = r.retireAt === undefined ? '' : `; retire expected at ${new Date(r.retireAt).toISOString()}`;
  return `rotation: ${r.phase}${r.id ? ` (${r.id})` : ''}: ${r.waitingFor}${reached}${left}${retire}`;
}

function formatLeft(ms: number): string {
  if (ms <= 0) return '0s';
  const s = Math.ceil(ms / 1000);
  const parts = [[Math.floor(s / 86_400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']] as const;
  return parts.filter(([n]) => n > 0).slice(0, 2).map(([n, u]) => `${n}${u}`).join('') || '0s';
}

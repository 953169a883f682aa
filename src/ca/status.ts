import { X509Certificate } from 'node:crypto';
import type { CaMaterial } from './material.js';

export interface CaStatusRow {
  role: 'root' | 'signing' | 'intermediate';
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
  return rows;
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

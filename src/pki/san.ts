import { isIPv4 } from 'node:net';
import { MeshidError } from '../common/errors.js';
import { asn1, children, type Asn1 } from './der.js';

export interface SubjectAltNames {
  uris: string[];
  dns: string[];
  ips: string[];
  emails: string[];
  /** otherName, directoryName and the rest: never allowed on a workload. */
  other: number;
}

const MAX_NAMES = 64;

/** Reads GeneralNames (RFC 5280 §4.2.1.6) into the kinds the CA's policy decides on. */
export function readSubjectAltNames(node: Asn1, code: string): SubjectAltNames {
  const names = children(node, 'subjectAltName', code);
  if (names.length > MAX_NAMES) throw new MeshidError(code, `subjectAltName lists ${names.length} names; at most ${MAX_NAMES}`);
  const out: SubjectAltNames = { uris: [], dns: [], ips: [], emails: [], other: 0 };
  for (const name of names) {
    const value = typeof name.value === 'string' ? name.value : '';
    if (name.tagClass !== asn1.Class.CONTEXT_SPECIFIC) out.other++;
    else if (name.type === 6) out.uris.push(value);
    else if (name.type === 2) out.dns.push(value);
    else if (name.type === 1) out.emails.push(value);
    else if (name.type === 7) out.ips.push(ipToString(Buffer.from(value, 'binary')));
    else out.other++;
  }
  return out;
}

function ipToString(raw: Buffer): string {
  if (raw.length === 4) {
    const s = [...raw].join('.');
    return isIPv4(s) ? s : 'invalid';
  }
  if (raw.length === 16) return (raw.toString('hex').match(/.{4}/g) ?? []).join(':');
  return 'invalid';
}

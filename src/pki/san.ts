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
// GeneralName choices as context tags (RFC 5280 §4.2.1.6): rfc822Name [1], dNSName [2], URI [6], iPAddress [7].
const EMAIL = 1;
const DNS = 2;
const URI = 6;
const IP = 7;

/** Reads GeneralNames (RFC 5280 §4.2.1.6) into the kinds the CA's policy decides on. */
export function readSubjectAltNames(node: Asn1, code: string): SubjectAltNames {
  const names = children(node, 'subjectAltName', code);
  if (names.length > MAX_NAMES) throw new MeshidError(code, `subjectAltName lists ${names.length} names; at most ${MAX_NAMES}`);
  const out: SubjectAltNames = { uris: [], dns: [], ips: [], emails: [], other: 0 };
  for (const name of names) {
    // forge holds primitive contents as binary strings: one character per byte, as latin1 reads them.
    const value = name.tagClass === asn1.Class.CONTEXT_SPECIFIC && typeof name.value === 'string' ? name.value : null;
    if (value === null) out.other++;
    else if (name.type === URI) out.uris.push(value);
    else if (name.type === DNS) out.dns.push(value);
    else if (name.type === EMAIL) out.emails.push(value);
    else if (name.type === IP) out.ips.push(ipToString(Buffer.from(value, 'binary')));
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

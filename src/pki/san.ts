import { isIPv4 } from 'node:net';
import { MeshidError } from '../common/errors.js';
import { children, type Der } from './der.js';

export interface SubjectAltNames {
  uris: string[];
  dns: string[];
  ips: string[];
  emails: string[];
  /** otherName, directoryName and the rest: never allowed on a workload. */
  other: number;
}

const MAX_NAMES = 64;
// GeneralName choices as primitive context tags (RFC 5280 §4.2.1.6): rfc822Name [1], dNSName [2], URI [6], iPAddress [7].
const EMAIL = 0x81;
const DNS = 0x82;
const URI = 0x86;
const IP = 0x87;

/** Reads GeneralNames (RFC 5280 §4.2.1.6) into the kinds the CA's policy decides on. */
export function readSubjectAltNames(node: Der, code: string): SubjectAltNames {
  const names = children(node, 'subjectAltName', code);
  if (names.length > MAX_NAMES) throw new MeshidError(code, `subjectAltName lists ${names.length} names; at most ${MAX_NAMES}`);
  const out: SubjectAltNames = { uris: [], dns: [], ips: [], emails: [], other: 0 };
  for (const name of names) {
    if (name.tag === URI) out.uris.push(name.content.toString('latin1'));
    else if (name.tag === DNS) out.dns.push(name.content.toString('latin1'));
    else if (name.tag === EMAIL) out.emails.push(name.content.toString('latin1'));
    else if (name.tag === IP) out.ips.push(ipToString(name.content));
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

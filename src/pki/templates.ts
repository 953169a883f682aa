import { OID } from './oids.js';
import { trustDomainSpiffeId } from './spiffe.js';

/**
 * One function per certificate kind, like SPIRE's templates.go: pure decisions about what a
 * certificate says. Time and serials come in as arguments, so tests pin them.
 */
export interface NameAttribute {
  oid: string;
  value: string;
}

export interface KeyUsage {
  digitalSignature?: boolean;
  keyEncipherment?: boolean;
  keyCertSign?: boolean;
  cRLSign?: boolean;
}

export interface CertTemplate {
  serial: Buffer;
  subject: NameAttribute[];
  notBefore: number;
  notAfter: number;
  ca: { pathLen?: number } | null;
  keyUsage: KeyUsage;
  extKeyUsage: string[];
  sans: { uris: string[]; dns: string[]; ips: string[] };
}

/** Leaves are backdated so a peer whose clock runs a little behind still accepts them. */
export const CLOCK_SKEW_MS = 60_000;

export interface Validity {
  now: number;
  ttlMs: number;
  serial: Buffer;
}

/** The common name of a root meshid made itself; a plug-in root has the operator's. */
export const SELF_MADE_ROOT_CN_PREFIX = 'meshid root CA ';

/** Whether a root's subject (node's X509Certificate.subject, one `K=V` per line) is one meshid made itself. */
export function isSelfMadeRootSubject(subject: string): boolean {
  return subject.split('\n').some((line) => line.startsWith(`CN=${SELF_MADE_ROOT_CN_PREFIX}`));
}

export function rootCaTemplate(o: Validity & { trustDomain: string; label: string }): CertTemplate {
  return {
    serial: o.serial,
    subject: [
      { oid: OID.organization, value: o.trustDomain },
      { oid: OID.commonName, value: `${SELF_MADE_ROOT_CN_PREFIX}${o.label}` },
    ],
    notBefore: o.now - CLOCK_SKEW_MS,
    notAfter: o.now + o.ttlMs,
    ca: {},
    keyUsage: { keyCertSign: true, cRLSign: true },
    extKeyUsage: [],
    sans: { uris: [trustDomainSpiffeId(o.trustDomain)], dns: [], ips: [] },
  };
}

/** The intermediate that signs workloads; pathLen 0 so it can mint no further CAs. */
export function signingCaTemplate(o: Validity & { trustDomain: string; label: string; issuerNotAfter: number }): CertTemplate {
  return {
    serial: o.serial,
    subject: [
      { oid: OID.organization, value: o.trustDomain },
      { oid: OID.commonName, value: `meshid signing CA ${o.label}` },
    ],
    notBefore: o.now - CLOCK_SKEW_MS,
    notAfter: Math.min(o.now + o.ttlMs, o.issuerNotAfter),
    ca: { pathLen: 0 },
    keyUsage: { keyCertSign: true, cRLSign: true },
    extKeyUsage: [],
    sans: { uris: [trustDomainSpiffeId(o.trustDomain)], dns: [], ips: [] },
  };
}

/** SPIFFE X509-SVID leaf: one URI SAN, no subject, CA:false, both TLS purposes. */
export function workloadTemplate(o: Validity & { spiffeId: string; rsaKey: boolean; issuerNotAfter: number }): CertTemplate {
  return {
    serial: o.serial,
    subject: [],
    notBefore: o.now - CLOCK_SKEW_MS,
    notAfter: Math.min(o.now + o.ttlMs, o.issuerNotAfter),
    ca: null,
    keyUsage: { digitalSignature: true, keyEncipherment: o.rsaKey },
    extKeyUsage: [OID.serverAuth, OID.clientAuth],
    sans: { uris: [o.spiffeId], dns: [], ips: [] },
  };
}

/** The control plane's own HTTPS certificate (CA API, webhook): DNS and IP names, server only. */
export function servingTemplate(
  o: Validity & { dnsNames: string[]; ips: string[]; rsaKey: boolean; issuerNotAfter: number },
): CertTemplate {
  return {
    serial: o.serial,
    subject: [{ oid: OID.commonName, value: o.dnsNames[0] ?? 'meshid' }],
    notBefore: o.now - CLOCK_SKEW_MS,
    notAfter: Math.min(o.now + o.ttlMs, o.issuerNotAfter),
    ca: null,
    keyUsage: { digitalSignature: true, keyEncipherment: o.rsaKey },
    extKeyUsage: [OID.serverAuth],
    sans: { uris: [], dns: o.dnsNames, ips: o.ips },
  };
}

/** 16 random bytes with the top bit clear and the next set: a positive 127-bit serial of fixed length. */
export function serialFrom(random: Buffer): Buffer {
  const s = Buffer.from(random.subarray(0, 16));
  s[0] = (s[0]! & 0x7f) | 0x40;
  return s;
}

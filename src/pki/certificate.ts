import { hash, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { MeshidError } from '../common/errors.js';
import {
  asn1, bitString, bitStringBytes, bool, children, contextTag, frame, integer, nullValue, octets, oid, oidOf, parseDer, primitive, seq, sequenceOf, set, time, toDer, utf8, type Asn1,
} from './der.js';
import { signatureAlgorithmFor, spkiDer } from './keys.js';
import { OID } from './oids.js';
import type { CertTemplate, KeyUsage, NameAttribute } from './templates.js';

const CODE = 'invalid_ca';
const VERSION_3 = toDer(contextTag(0, true, [integer(Buffer.from([2]))]));

/** What signing needs from a CA, encoded once and reused for every certificate it signs. */
export interface Signer {
  privateKey: KeyObject;
  /** The CA's subject, DER: every certificate it signs names it as issuer. */
  nameDer: Buffer;
  keyId: Buffer;
  /** The authorityKeyIdentifier extension every certificate it signs carries, DER. */
  authorityKeyIdDer: Buffer;
  notAfter: number;
  algorithmDer: Buffer;
  hash: string;
}

/** The subject's public key as it goes into the certificate. */
export interface SubjectKey {
  /** subjectPublicKeyInfo, canonical DER. */
  spkiDer: Buffer;
  /** SHA-1 input for the subject key identifier: the subjectPublicKey bits. */
  publicKeyBits: Buffer;
}

export function subjectKeyOf(publicKey: KeyObject): SubjectKey {
  const der = spkiDer(publicKey);
  const [, keyBits] = children(parseDer(der, 'public key', CODE), 'public key', CODE);
  return { spkiDer: der, publicKeyBits: bitStringBytes(keyBits, 'public key bits', CODE) };
}

export function signerFor(certDer: Uint8Array, privateKey: KeyObject): Signer {
  const [tbs] = children(parseDer(certDer, 'the CA certificate', CODE), 'the CA certificate', CODE);
  const fields = children(tbs, 'the CA certificate body', CODE);
  const at = isContext(fields[0], 0) ? 1 : 0;
  const validity = children(fields[at + 3], 'the CA validity', CODE);
  const keyBits = bitStringBytes(children(fields[at + 5], 'the CA public key', CODE)[1], 'the CA public key bits', CODE);
  const extensions = fields.find((f) => isContext(f, 3));
  const name = fields[at + 4];
  if (!name) throw new MeshidError(CODE, 'the CA certificate has no subject');
  const keyId = findSubjectKeyId(extensions) ?? keyIdentifier(keyBits);
  return {
    privateKey,
    nameDer: toDer(name),
    keyId,
    authorityKeyIdDer: authorityKeyId(keyId),
    notAfter: readTime(validity[1]),
    ...algorithmOf(privateKey),
  };
}

/** A self-signed certificate (a root): issuer is the subject, signed by its own key. */
export function selfSign(t: CertTemplate, privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const subject = subjectKeyOf(publicKey);
  const keyId = keyIdentifier(subject.publicKeyBits);
  const signer: Signer = {
    privateKey,
    nameDer: encodeName(t.subject),
    keyId,
    authorityKeyIdDer: authorityKeyId(keyId),
    notAfter: t.notAfter,
    ...algorithmOf(privateKey),
  };
  return signCertificate(t, subject, signer);
}

/**
 * Builds the TBSCertificate and signs it with node's crypto. Returns DER. forge encodes what
 * differs per certificate (serial, validity, subject, SKI, SAN); the parts a signer or certificate
 * kind shares (issuer, AKI, fixed extensions, algorithm) were encoded once and go in as bytes.
 */
export function signCertificate(t: CertTemplate, subject: SubjectKey, signer: Signer): Buffer {
  if (t.notAfter > signer.notAfter) throw new MeshidError('ttl_beyond_ca', 'the certificate would outlive the CA that signs it');
  const extensions = [
    fixedExtensions(t),
    toDer(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(subject.publicKeyBits)))),
    signer.authorityKeyIdDer,
  ];
  const names = generalNames(t.sans);
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
  if (names.length > 0) extensions.push(toDer(extension(OID.subjectAltName, t.subject.length === 0, seq(names))));

  const tbs = sequenceOf([
    VERSION_3,
    toDer(integer(t.serial)),
    signer.algorithmDer,
    signer.nameDer,
    toDer(seq([time(t.notBefore), time(t.notAfter)])),
    encodeName(t.subject),
    subject.spkiDer,
    frame(asn1.Class.CONTEXT_SPECIFIC, 3, [sequenceOf(extensions)]),
  ]);
  const signature = sign(signer.hash, tbs, { key: signer.privateKey, dsaEncoding: 'der' });
  return sequenceOf([tbs, signer.algorithmDer, toDer(bitString(signature))]);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Buffer): Buffer {
  return hash('sha1', publicKeyBits, 'buffer');
}

const fixed = new Map<string, Buffer>();

/**
 * basicConstraints, keyUsage and extKeyUsage depend only on the kind of certificate, of which
 * there are a handful; their DER is built once per kind instead of once per certificate.
 */
function fixedExtensions(t: CertTemplate): Buffer {
  const ku = t.keyUsage;
  const key = `${t.ca ? `ca:${t.ca.pathLen ?? '-'}` : 'leaf'}|${+!!ku.digitalSignature}${+!!ku.keyEncipherment}${+!!ku.keyCertSign}${+!!ku.cRLSign}|${t.extKeyUsage.join(',')}`;
  let der = fixed.get(key);
  if (!der) {
    const parts = [extension(OID.basicConstraints, true, basicConstraints(t.ca)), extension(OID.keyUsage, true, keyUsageBits(ku))];
    if (t.extKeyUsage.length > 0) parts.push(extension(OID.extKeyUsage, false, seq(t.extKeyUsage.map(oid))));
    der = Buffer.concat(parts.map(toDer));
    fixed.set(key, der);
  }
  return der;
}

export function encodeName(attrs: NameAttribute[]): Buffer {
  return toDer(seq(attrs.map((a) => set([seq([oid(a.oid), utf8(a.value)])]))));
}

export function algorithmIdentifier(id: string, rsa: boolean): Buffer {
  // RSA PKCS#1 identifiers carry an explicit NULL parameter; ECDSA ones carry none (RFC 5758).
  return toDer(seq(rsa ? [oid(id), nullValue()] : [oid(id)]));
}

function algorithmOf(privateKey: KeyObject): { algorithmDer: Buffer; hash: string } {
  const alg = signatureAlgorithmFor(privateKey);
  return { algorithmDer: algorithmIdentifier(alg.oid, alg.rsa), hash: alg.hash };
}

function authorityKeyId(keyId: Buffer): Buffer {
  return toDer(extension(OID.authorityKeyIdentifier, false, seq([contextTag(0, false, keyId.toString('binary'))])));
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const inner = octets(toDer(value));
  return seq(critical ? [oid(id), bool(true), inner] : [oid(id), inner]);
}

function basicConstraints(ca: CertTemplate['ca']): Asn1 {
  if (!ca) return seq([]);
  return seq(ca.pathLen === undefined ? [bool(true)] : [bool(true), integer(Buffer.from([ca.pathLen]))]);
}

/** KeyUsage bits in RFC 5280 order: digitalSignature(0) … keyEncipherment(2) … keyCertSign(5), cRLSign(6). */
function keyUsageBits(ku: KeyUsage): Asn1 {
  let byte = 0;
  if (ku.digitalSignature) byte |= 0x80;
  if (ku.keyEncipherment) byte |= 0x20;
  if (ku.keyCertSign) byte |= 0x04;
  if (ku.cRLSign) byte |= 0x02;
  let unused = 0;
  while (unused < 7 && ((byte >> unused) & 1) === 0) unused++;
  return bitString(Buffer.from([byte]), unused);
}

function generalNames(sans: CertTemplate['sans']): Asn1[] {
  return [
    ...sans.dns.map((d) => contextTag(2, false, d)),
    ...sans.ips.map((ip) => contextTag(7, false, ipBytes(ip).toString('binary'))),
    ...sans.uris.map((u) => contextTag(6, false, u)),
  ];
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; }));
}

function isContext(node: Asn1 | undefined, n: number): boolean {
  return node?.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === n;
}

function findSubjectKeyId(extensions: Asn1 | undefined): Buffer | null {
  if (!extensions) return null;
  for (const ext of children(children(extensions, 'extensions', CODE)[0], 'extensions', CODE)) {
    const parts = children(ext, 'extension', CODE);
    if (oidOf(parts[0], 'extension id', CODE) !== OID.subjectKeyIdentifier) continue;
    const inner = parseDer(primitive(parts[parts.length - 1], asn1.Type.OCTETSTRING, 'extension value', CODE), 'subjectKeyIdentifier', CODE);
    return primitive(inner, asn1.Type.OCTETSTRING, 'subjectKeyIdentifier', CODE);
  }
  return null;
}

/** UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ, as RFC 5280 §4.1.2.5 allows. */
function readTime(node: Asn1 | undefined): number {
  const utc = node?.tagClass === asn1.Class.UNIVERSAL && node.type === asn1.Type.UTCTIME;
  const text = primitive(node, utc ? asn1.Type.UTCTIME : asn1.Type.GENERALIZEDTIME, 'a validity time', CODE).toString('latin1');
  const m = (utc ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(text);
  if (!m) throw new MeshidError(CODE, 'a CA validity time is not in the form RFC 5280 requires');
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const fullYear = utc ? (year < 50 ? 2000 + year : 1900 + year) : year;
  return Date.UTC(fullYear, month - 1, day, hour, minute, second);
}

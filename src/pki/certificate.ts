import { createHash, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { MeshidError } from '../common/errors.js';
import {
  asn1, bitString, bool, bytes, children, contextTag, derSequence, fromDerTrusted, integer, nullValue, octets, oid, oidOf, parseDer, seq, set, time, toDer, utf8,
  type Asn1,
} from './der.js';
import { signatureAlgorithmFor, spkiDer } from './keys.js';
import { OID } from './oids.js';
import type { CertTemplate, KeyUsage, NameAttribute } from './templates.js';

const CODE = 'invalid_ca';

/** What signing needs from a CA, parsed once and reused for every certificate it signs. */
export interface Signer {
  privateKey: KeyObject;
  name: Asn1;
  keyId: Buffer;
  notAfter: number;
  algorithm: Asn1;
  hash: string;
}

/** The subject's public key as it goes into the certificate. */
export interface SubjectKey {
  spki: Asn1;
  publicKeyBits: Buffer;
}

export function subjectKeyOf(publicKey: KeyObject): SubjectKey {
  const spki = fromDerTrusted(spkiDer(publicKey));
  return { spki, publicKeyBits: bitStringContent(children(spki, 'public key', CODE)[1]) };
}

export function signerFor(certDer: Uint8Array, privateKey: KeyObject): Signer {
  const [tbs] = children(parseDer(certDer, 'the CA certificate', CODE), 'the CA certificate', CODE);
  const fields = children(tbs, 'the CA certificate body', CODE);
  const at = fields[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  const validity = children(fields[at + 3], 'the CA validity', CODE);
  const keyBits = bitStringContent(children(fields[at + 5], 'the CA public key', CODE)[1]);
  const extensions = fields.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  const alg = signatureAlgorithmFor(privateKey);
  return {
    privateKey,
    name: fields[at + 4]!,
    keyId: findSubjectKeyId(extensions) ?? keyIdentifier(keyBits),
    notAfter: readTime(validity[1]),
    algorithm: algorithmIdentifier(alg.oid, alg.rsa),
    hash: alg.hash,
  };
}

/** A self-signed certificate (a root): issuer is the subject, signed by its own key. */
export function selfSign(t: CertTemplate, privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const subject = subjectKeyOf(publicKey);
  const alg = signatureAlgorithmFor(privateKey);
  const signer: Signer = {
    privateKey,
    name: encodeName(t.subject),
    keyId: keyIdentifier(subject.publicKeyBits),
    notAfter: t.notAfter,
    algorithm: algorithmIdentifier(alg.oid, alg.rsa),
    hash: alg.hash,
  };
  return signCertificate(t, subject, signer);
}

/** Builds the TBSCertificate from the template and signs it with node's crypto. Returns DER. */
export function signCertificate(t: CertTemplate, subject: SubjectKey, signer: Signer): Buffer {
  if (t.notAfter > signer.notAfter) throw new MeshidError('ttl_beyond_ca', 'the certificate would outlive the CA that signs it');
  const extensions: Asn1[] = [
    extension(OID.basicConstraints, true, basicConstraints(t.ca)),
    extension(OID.keyUsage, true, keyUsageBits(t.keyUsage)),
  ];
  if (t.extKeyUsage.length > 0) extensions.push(extension(OID.extKeyUsage, false, seq(t.extKeyUsage.map(oid))));
  extensions.push(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(subject.publicKeyBits))));
  extensions.push(extension(OID.authorityKeyIdentifier, false, seq([contextTag(0, false, signer.keyId.toString('binary'))])));
  const names = generalNames(t.sans);
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
  if (names.length > 0) extensions.push(extension(OID.subjectAltName, t.subject.length === 0, seq(names)));

  const tbs = seq([
    contextTag(0, true, [integer(Buffer.from([2]))]),
    integer(t.serial),
    signer.algorithm,
    signer.name,
    seq([time(t.notBefore), time(t.notAfter)]),
    encodeName(t.subject),
    subject.spki,
    contextTag(3, true, [seq(extensions)]),
  ]);
  const tbsDer = toDer(tbs);
  const signature = sign(signer.hash, tbsDer, { key: signer.privateKey, dsaEncoding: 'der' });
  return derSequence([tbsDer, toDer(signer.algorithm), toDer(bitString(signature))]);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Buffer): Buffer {
  return createHash('sha1').update(publicKeyBits).digest();
}

export function encodeName(attrs: NameAttribute[]): Asn1 {
  return seq(attrs.map((a) => set([seq([oid(a.oid), utf8(a.value)])])));
}

export function algorithmIdentifier(id: string, rsa: boolean): Asn1 {
  // RSA PKCS#1 identifiers carry an explicit NULL parameter; ECDSA ones carry none (RFC 5758).
  return seq(rsa ? [oid(id), nullValue()] : [oid(id)]);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(bool(true));
  parts.push(octets(toDer(value)));
  return seq(parts);
}

function basicConstraints(ca: CertTemplate['ca']): Asn1 {
  if (!ca) return seq([]);
  const parts = [bool(true)];
  if (ca.pathLen !== undefined) parts.push(integer(Buffer.from([ca.pathLen])));
  return seq(parts);
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

function bitStringContent(node: Asn1 | undefined): Buffer {
  return Buffer.from(bytes(node, 'public key bits', CODE).slice(1), 'binary');
}

function findSubjectKeyId(extensions: Asn1 | undefined): Buffer | null {
  if (!extensions) return null;
  for (const ext of children(children(extensions, 'extensions', CODE)[0], 'extensions', CODE)) {
    const parts = children(ext, 'extension', CODE);
    if (oidOf(parts[0], 'extension id', CODE) !== OID.subjectKeyIdentifier) continue;
    const inner = parseDer(Buffer.from(bytes(parts[parts.length - 1], 'extension value', CODE), 'binary'), 'subjectKeyIdentifier', CODE);
    return Buffer.from(bytes(inner, 'subjectKeyIdentifier', CODE), 'binary');
  }
  return null;
}

function readTime(node: Asn1 | undefined): number {
  const raw = bytes(node, 'a validity time', CODE);
  const date = node!.type === asn1.Type.UTCTIME ? asn1.utcTimeToDate(raw) : asn1.generalizedTimeToDate(raw);
  return date.getTime();
}

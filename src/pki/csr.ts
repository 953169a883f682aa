import { createPublicKey, verify, type KeyObject, type JsonWebKey } from 'node:crypto';
import { MeshidError } from '../common/errors.js';
import {
  asn1, bitString, bitStringBytes, children, integer, nullValue, oid, oidOf, parseDer, parseDerSequence, primitive, seq, sequenceOf, toDer, type Asn1,
} from './der.js';
import { rsaKeyInfo, type KeyInfo } from './keys.js';
import { CSR_SIGNATURE_ALGORITHMS, OID } from './oids.js';
import { decodePem } from './pem.js';
import { readSubjectAltNames, type SubjectAltNames } from './san.js';

const CODE = 'invalid_csr';

export interface ParsedCsr {
  publicKey: KeyObject;
  keyInfo: KeyInfo;
  /** The subjectPublicKeyInfo re-encoded from the key's parts: canonical DER whatever the CSR's encoding. */
  spkiDer: Buffer;
  /** SHA-1 input for the subject key identifier: the subjectPublicKey bits, canonical too. */
  publicKeyBits: Buffer;
  sans: SubjectAltNames;
  /** basicConstraints cA=TRUE, or keyUsage keyCertSign/cRLSign requested. */
  requestsCa: boolean;
}

/** Parses and verifies a PEM CSR. Every failure is a MeshidError whose message never echoes the CSR. */
export function parseCsrPem(pem: string): ParsedCsr {
  const der = decodePem(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], 'the CSR');
  return parseCsrDer(der);
}

export function parseCsrDer(der: Uint8Array): ParsedCsr {
  const csr = parseDerSequence(Buffer.from(der.buffer, der.byteOffset, der.byteLength), 'the CSR', CODE);
  const [info, sigAlg, sigValue] = csr.elements;
  if (csr.elements.length !== 3 || !info || !sigAlg || !sigValue) throw new MeshidError(CODE, 'the CSR must be a sequence of request info, algorithm and signature');
  const fields = children(sequence(info, 'the CSR request info'), 'the CSR request info', CODE);
  const [version, subject, spki, attributes] = fields;
  if (primitive(version, asn1.Type.INTEGER, 'the CSR version', CODE).toString('hex') !== '00') throw new MeshidError(CODE, 'the CSR version must be 1 (encoded 0)');
  if (!subject || !spki) throw new MeshidError(CODE, 'the CSR has no public key');
  const attributesTagged = attributes?.tagClass === asn1.Class.CONTEXT_SPECIFIC && attributes.type === 0;
  if (fields.length > 4 || (attributes && !attributesTagged)) throw new MeshidError(CODE, 'the CSR request info has unexpected fields');
  const algOid = oidOf(children(sequence(sigAlg, 'the CSR signature algorithm'), 'the CSR signature algorithm', CODE)[0], 'the CSR signature algorithm', CODE);
  const alg = CSR_SIGNATURE_ALGORITHMS[algOid];
  if (!alg) throw new MeshidError('unsupported_signature_algorithm', `the CSR is signed with algorithm ${algOid.slice(0, 64)}; use ECDSA or RSA with SHA-256/384/512`);

  const { publicKey, keyInfo, bits, spkiDer } = importPublicKey(spki);
  if (keyInfo.kind !== alg.key) throw new MeshidError(CODE, `the CSR signature algorithm does not match its ${keyInfo.kind.toUpperCase()} key`);

  const signature = bitStringBytes(sigValue, 'the CSR signature', CODE);
  // The request info exactly as it arrived: parseDerSequence proved it is the one DER encoding.
  if (!verify(alg.hash, csr.bytes[0]!, { key: publicKey, dsaEncoding: 'der' }, signature)) {
    throw new MeshidError('csr_signature_invalid', 'the CSR signature does not verify with its own public key (was it altered?)');
  }
  const ext = readExtensionRequest(attributes);
  return { publicKey, keyInfo, spkiDer, publicKeyBits: bits, sans: ext.sans, requestsCa: ext.requestsCa };
}

/**
 * A bare subjectPublicKeyInfo (DER), such as a PodCertificateRequest's pkixPublicKey, under the same key
 * policy as a CSR's, re-encoded canonically.
 */
export function parsePublicKeyDer(der: Uint8Array): Pick<ParsedCsr, 'publicKey' | 'keyInfo' | 'spkiDer' | 'publicKeyBits'> {
  const spki = parseDer(Buffer.from(der.buffer, der.byteOffset, der.byteLength), 'the public key', CODE);
  if (spki.tagClass !== asn1.Class.UNIVERSAL || spki.type !== asn1.Type.SEQUENCE) throw new MeshidError(CODE, 'the public key is not a subjectPublicKeyInfo SEQUENCE');
  const { publicKey, keyInfo, bits, spkiDer } = importPublicKey(spki);
  return { publicKey, keyInfo, spkiDer, publicKeyBits: bits };
}

function sequence(node: Asn1, what: string): Asn1 {
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.SEQUENCE) throw new MeshidError(CODE, `${what} is not a SEQUENCE`);
  return node;
}

/** The AlgorithmIdentifier of each accepted EC curve, encoded once. */
const EC_ALGORITHMS = new Map<string, Buffer>([OID.p256, OID.p384].map((curve) => [curve, toDer(seq([oid(OID.ecPublicKey), oid(curve)]))]));
const RSA_ALGORITHM = toDer(seq([oid(OID.rsaEncryption), nullValue()]));

/**
 * The key, what policy says of it, and its canonical encoding. Policy is read from the DER, before
 * the import, and JWK import is node's cheapest way into a KeyObject (half of SPKI DER import).
 */
function importPublicKey(spki: Asn1): { publicKey: KeyObject; keyInfo: KeyInfo; bits: Buffer; spkiDer: Buffer } {
  const [alg, keyBits] = children(spki, 'the CSR public key', CODE);
  const [algOid, params] = children(alg, 'the CSR public key algorithm', CODE);
  const keyOid = oidOf(algOid, 'the CSR public key algorithm', CODE);
  const bits = bitStringBytes(keyBits, 'the CSR public key', CODE);
  if (keyOid === OID.ecPublicKey) {
    const curveOid = params?.type === asn1.Type.OID ? oidOf(params, 'the CSR key curve', CODE) : 'unknown';
    const curve = curveOid === OID.p256 ? { crv: 'P-256' as const, size: 32 } : curveOid === OID.p384 ? { crv: 'P-384' as const, size: 48 } : null;
    if (!curve) throw new MeshidError('unsupported_key', `EC curve ${curveOid.slice(0, 64)} is not accepted; use P-256 or P-384`);
    if (bits.length !== 1 + 2 * curve.size || bits[0] !== 4) throw new MeshidError(CODE, `the CSR's ${curve.crv} public key is not an uncompressed point`);
    const jwk: JsonWebKey = {
      kty: 'EC',
      crv: curve.crv,
      x: bits.toString('base64url', 1, 1 + curve.size),
      y: bits.toString('base64url', 1 + curve.size),
    };
    const spkiDer = sequenceOf([EC_ALGORITHMS.get(curveOid)!, toDer(bitString(bits))]);
    return { publicKey: createKey(jwk), keyInfo: { kind: 'ec', curve: curve.crv }, bits, spkiDer };
  }
  if (keyOid === OID.rsaEncryption) {
    const [n, e] = children(parseDer(bits, 'the CSR RSA public key', CODE), 'the CSR RSA public key', CODE);
    const modulus = magnitude(primitive(n, asn1.Type.INTEGER, 'the RSA modulus', CODE));
    const exponent = magnitude(primitive(e, asn1.Type.INTEGER, 'the RSA exponent', CODE));
    const keyInfo = rsaKeyInfo(bitLength(modulus));
    const jwk: JsonWebKey = { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') };
    const canonical = toDer(seq([integer(modulus), integer(exponent)]));
    return { publicKey: createKey(jwk), keyInfo, bits: canonical, spkiDer: sequenceOf([RSA_ALGORITHM, toDer(bitString(canonical))]) };
  }
  throw new MeshidError('unsupported_key', `public key algorithm ${keyOid.slice(0, 64)} is not accepted; use ECDSA P-256/P-384 or RSA`);
}

function createKey(jwk: JsonWebKey): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw new MeshidError(CODE, 'the CSR public key is not a valid key (point not on the curve, or bad RSA values)');
  }
}

function bitLength(m: Buffer): number {
  return m.length === 0 ? 0 : (m.length - 1) * 8 + (32 - Math.clz32(m[0]!));
}

function magnitude(raw: Buffer): Buffer {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  return raw.subarray(i);
}

function readExtensionRequest(attributes: Asn1 | undefined): { sans: SubjectAltNames; requestsCa: boolean } {
  const result = { sans: { uris: [], dns: [], ips: [], emails: [], other: 0 } as SubjectAltNames, requestsCa: false };
  if (!attributes) return result;
  for (const attr of children(attributes, 'the CSR attributes', CODE)) {
    const [type, values] = children(attr, 'a CSR attribute', CODE);
    if (oidOf(type, 'a CSR attribute type', CODE) !== OID.extensionRequest) continue;
    for (const extensions of children(values, 'the CSR extension request', CODE)) {
      for (const ext of children(extensions, 'the CSR extensions', CODE)) readExtension(ext, result);
    }
  }
  return result;
}

function readExtension(ext: Asn1, into: { sans: SubjectAltNames; requestsCa: boolean }): void {
  const parts = children(ext, 'a CSR extension', CODE);
  const id = oidOf(parts[0], 'a CSR extension id', CODE);
  const inner = () => parseDer(primitive(parts[parts.length - 1], asn1.Type.OCTETSTRING, 'a CSR extension value', CODE), 'a CSR extension value', CODE);
  if (id === OID.subjectAltName) {
    const sans = readSubjectAltNames(inner(), CODE);
    into.sans = {
      uris: [...into.sans.uris, ...sans.uris],
      dns: [...into.sans.dns, ...sans.dns],
      ips: [...into.sans.ips, ...sans.ips],
      emails: [...into.sans.emails, ...sans.emails],
      other: into.sans.other + sans.other,
    };
  } else if (id === OID.basicConstraints) {
    const first = children(inner(), 'basicConstraints', CODE)[0];
    if (first?.tagClass === asn1.Class.UNIVERSAL && first.type === asn1.Type.BOOLEAN && first.value !== '\x00') into.requestsCa = true;
  } else if (id === OID.keyUsage) {
    const raw = primitive(inner(), asn1.Type.BITSTRING, 'keyUsage', CODE);
    // keyCertSign is bit 5 (0x04) and cRLSign bit 6 (0x02) of the first byte
    if (raw.length > 1 && raw[1]! & 0x06) into.requestsCa = true;
  }
}

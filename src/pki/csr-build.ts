import { sign, type KeyObject } from 'node:crypto';
import { bitString, contextTag, integer, oid, octets, seq, set, toDer } from './der.js';
import { signatureAlgorithmFor } from './keys.js';
import { algorithmIdentifier, encodeName, subjectKeyOf } from './certificate.js';
import { OID } from './oids.js';
import { encodePem } from './pem.js';

/** A PKCS#10 CSR with an empty subject and the SPIFFE ID as its only URI SAN, signed with node's crypto. */
export function buildCsrPem(privateKey: KeyObject, publicKey: KeyObject, spiffeId: string): string {
  const san = seq([oid(OID.subjectAltName), octets(toDer(seq([contextTag(6, false, spiffeId)])))]);
  const info = seq([
    integer(Buffer.from([0])),
    encodeName([]),
    subjectKeyOf(publicKey).spki,
    contextTag(0, true, [seq([oid(OID.extensionRequest), set([seq([san])])])]),
  ]);
  const alg = signatureAlgorithmFor(privateKey);
  const infoDer = toDer(info);
  const signature = sign(alg.hash, infoDer, { key: privateKey, dsaEncoding: 'der' });
  return encodePem('CERTIFICATE REQUEST', toDer(seq([info, algorithmIdentifier(alg.oid, alg.rsa), bitString(signature)])));
}

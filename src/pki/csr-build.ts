import { sign, type KeyObject } from 'node:crypto';
import { algorithmIdentifier, encodeName, subjectKeyOf } from './certificate.js';
import { bitString, contextTag, integer, octets, oid, seq, sequenceOf, set, toDer } from './der.js';
import { signatureAlgorithmFor } from './keys.js';
import { OID } from './oids.js';
import { encodePem } from './pem.js';

/** A PKCS#10 CSR with an empty subject and the SPIFFE ID as its only URI SAN, signed with node's crypto. */
export function buildCsrPem(privateKey: KeyObject, publicKey: KeyObject, spiffeId: string): string {
  const san = seq([oid(OID.subjectAltName), octets(toDer(seq([contextTag(6, false, spiffeId)])))]);
  const attributes = toDer(contextTag(0, true, [seq([oid(OID.extensionRequest), set([seq([san])])])]));
  const info = sequenceOf([toDer(integer(Buffer.from([0]))), encodeName([]), subjectKeyOf(publicKey).spkiDer, attributes]);
  const alg = signatureAlgorithmFor(privateKey);
  const signature = sign(alg.hash, info, { key: privateKey, dsaEncoding: 'der' });
  return encodePem('CERTIFICATE REQUEST', sequenceOf([info, algorithmIdentifier(alg.oid, alg.rsa), toDer(bitString(signature))]));
}

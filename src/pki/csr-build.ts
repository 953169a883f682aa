import { sign, type KeyObject } from 'node:crypto';
import { algorithmIdentifier, encodeName, subjectKeyOf } from './certificate.js';
import { bitString, context, integer, octetString, oid, sequence, setOf } from './der-write.js';
import { signatureAlgorithmFor } from './keys.js';
import { OID } from './oids.js';
import { encodePem } from './pem.js';

/** A PKCS#10 CSR with an empty subject and the SPIFFE ID as its only URI SAN, signed with node's crypto. */
export function buildCsrPem(privateKey: KeyObject, publicKey: KeyObject, spiffeId: string): string {
  const san = sequence([oid(OID.subjectAltName), octetString(sequence([context(6, false, [Buffer.from(spiffeId, 'latin1')])]))]);
  const info = sequence([
    integer(Buffer.from([0])),
    encodeName([]),
    subjectKeyOf(publicKey).spkiDer,
    context(0, true, [sequence([oid(OID.extensionRequest), setOf([sequence([san])])])]),
  ]);
  const alg = signatureAlgorithmFor(privateKey);
  const signature = sign(alg.hash, info, { key: privateKey, dsaEncoding: 'der' });
  return encodePem('CERTIFICATE REQUEST', sequence([info, algorithmIdentifier(alg.oid, alg.rsa), bitString(signature)]));
}

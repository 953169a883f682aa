import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { issueWorkloadCertificate } from '../../src/ca/issue.js';
import { parseCsrDer } from '../../src/pki/csr.js';
import { buildCsrPem } from '../../src/pki/csr-build.js';
import { frame, integer, sequenceOf, time, toDer } from '../../src/pki/der.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { decodePem } from '../../src/pki/pem.js';
import { makeCa } from '../helpers/ca-material.js';
import { opensslCsr } from '../helpers/openssl.js';

const hex = (b: Buffer) => b.toString('hex');
/** node-forge, an independent encoder: what it writes back for a parsed certificate is the canonical DER. */
const forgeDer = (node: forge.asn1.Asn1) => Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');

test('pre-encoded parts are framed with minimal lengths; integers and times take the one form DER allows', () => {
  for (const n of [0, 127, 128, 255, 256, 65_535, 65_536]) {
    const der = frame(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, [Buffer.alloc(n)]);
    const head = n < 0x80 ? [0x30, n] : n < 0x100 ? [0x30, 0x81, n] : n < 0x10000 ? [0x30, 0x82, n >> 8, n & 0xff] : [0x30, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    assert.equal(hex(der.subarray(0, head.length)), hex(Buffer.from(head)), `length ${n}`);
    assert.equal(der.length, head.length + n);
  }
  assert.equal(hex(frame(forge.asn1.Class.CONTEXT_SPECIFIC, 3, [Buffer.from([5, 0])])), 'a3020500', 'a constructed context tag');
  assert.equal(hex(toDer(integer(Buffer.from([0])))), '020100');
  assert.equal(hex(toDer(integer(Buffer.alloc(0)))), '020100');
  assert.equal(hex(toDer(integer(Buffer.from([0, 0, 0x7f])))), '02017f');
  assert.equal(hex(toDer(integer(Buffer.from([0x80])))), '02020080');
  assert.equal(hex(toDer(integer(Buffer.from([0, 0x80, 1])))), '0203008001');
  assert.equal(toDer(time(Date.UTC(2049, 11, 31, 23, 59, 59, 999))).toString('latin1', 2), '491231235959Z');
  assert.equal(toDer(time(Date.UTC(2049, 11, 31, 23, 59, 59))).readUInt8(0), 0x17, 'UTCTime through 2049');
  assert.equal(toDer(time(Date.UTC(2050, 0, 1))).toString('latin1', 2), '20500101000000Z');
  assert.equal(toDer(time(Date.UTC(2050, 0, 1))).readUInt8(0), 0x18, 'GeneralizedTime from 2050');
});

test('certificates come out as canonical DER: forge parsing and re-encoding them gives the same bytes', async () => {
  for (const keyAlgorithm of ['ec-p256', 'rsa-2048'] as const) {
    const ca = makeCa({ keyAlgorithm });
    const csrs = [(await opensslCsr({ key: 'rsa:2048' })).csr, (await opensslCsr({ key: 'ec:P-384' })).csr];
    const keys = generateKeyPair();
    csrs.push(buildCsrPem(keys.privateKey, keys.publicKey, 'spiffe://cluster.local/ns/shop/sa/cart'));
    const issued = csrs.map((csr) => issueWorkloadCertificate({ csr }, { namespace: 'shop', serviceAccount: 'cart', expiresAt: 0 },
      { ca: ca.material, trustDomain: 'cluster.local', ttl: { defaultMs: 3_600_000, maxMs: 86_400_000 }, now: Date.now(), random: randomBytes }).leafPem);
    for (const pem of [...issued, ...ca.material.chain, ...ca.material.roots]) {
      const der = decodePem(pem, ['CERTIFICATE'], 'cert');
      assert.equal(hex(forgeDer(forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), { decodeBitStrings: false } as never))), hex(der));
      assert.ok(new X509Certificate(der).verify(new X509Certificate(ca.material.chain.includes(pem) || ca.material.roots.includes(pem) ? ca.material.roots[0]! : ca.material.chain[0]!).publicKey));
    }
  }
});

test('BER is refused: indefinite, non-minimal and long-form-for-short lengths, high tags, padded integers', async () => {
  const der = decodePem((await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/cart' })).csr, ['CERTIFICATE REQUEST'], 'csr');
  assert.doesNotThrow(() => parseCsrDer(der));
  const body = der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2);
  const reframed = [
    Buffer.concat([Buffer.from([0x30, 0x80]), body, Buffer.from([0, 0])]),
    Buffer.concat([Buffer.from([0x30, 0x83, 0, body.length >> 8, body.length & 0xff]), body]),
    sequenceOf([Buffer.from([0x02, 0x81, 0x01, 0x00])]),
    sequenceOf([Buffer.from([0x1f, 0x81, 0x00, 0x00])]),
    sequenceOf([Buffer.from([0x02, 0x02, 0x00, 0x01])]),
  ];
  for (const bad of reframed) assert.throws(() => parseCsrDer(bad), { code: 'invalid_csr', message: /not valid DER/ }, hex(bad.subarray(0, 6)));
});

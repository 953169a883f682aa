import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MeshidError } from '../../src/common/errors.js';
import { checkCsrAsks } from '../../src/ca/issue.js';
import { parseCsrDer, parseCsrPem } from '../../src/pki/csr.js';
import { decodePem, encodePem } from '../../src/pki/pem.js';
import { opensslCsr } from '../helpers/openssl.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

/** Parse + policy, as the CA does; returns the error code, or 'ok'. */
function verdict(pem: string): string {
  try {
    checkCsrAsks(parseCsrPem(pem), ID);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof MeshidError, `expected a MeshidError, got ${(err as Error)?.stack}`);
    assert.ok(!err.message.includes('MII'), 'the message must not echo the CSR');
    return err.code;
  }
}

const der = (pem: string) => decodePem(pem, ['CERTIFICATE REQUEST'], 'csr');
const pem = (d: Buffer) => encodePem('CERTIFICATE REQUEST', d);

test('PEM garbage, empty, oversized and mislabelled input is refused with invalid_pem', async () => {
  const good = (await opensslCsr({ san: `URI:${ID}` })).csr;
  assert.equal(verdict(good), 'ok');
  assert.equal(verdict(''), 'invalid_pem');
  assert.equal(verdict('hello'), 'invalid_pem');
  assert.equal(verdict('-----BEGIN CERTIFICATE REQUEST-----\n!!!notbase64!!!\n-----END CERTIFICATE REQUEST-----\n'), 'invalid_pem');
  assert.equal(verdict('-----BEGIN CERTIFICATE REQUEST-----\nQUJD=QUJD\n-----END CERTIFICATE REQUEST-----\n'), 'invalid_pem');
  assert.equal(verdict(good.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')), 'invalid_pem');
  assert.equal(verdict(good + good), 'invalid_pem', 'two blocks');
  assert.equal(verdict(good.padEnd(300 * 1024, ' ')), 'invalid_pem', 'oversized text');
  assert.equal(verdict('-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n'), 'invalid_pem');
});

test('truncated, padded, deeply nested and oversized DER is refused with invalid_csr', async () => {
  const d = der((await opensslCsr({ san: `URI:${ID}` })).csr);
  for (const cut of [1, 2, 10, d.length / 2, d.length - 1]) assert.equal(verdict(pem(d.subarray(0, Math.floor(cut)))), 'invalid_csr', `cut at ${cut}`);
  assert.equal(verdict(pem(Buffer.concat([d, Buffer.from([0, 0])]))), 'invalid_csr', 'trailing bytes');
  const nested = Buffer.concat([...Array.from({ length: 200 }, (_, i) => Buffer.from([0x30, 0x81, Math.min(255, 2 * (200 - i))])), Buffer.alloc(0)]);
  assert.equal(verdict(pem(nested)), 'invalid_csr', 'nested sequences');
  assert.equal(verdict(pem(Buffer.concat([Buffer.from([0x30, 0x83, 0x01, 0x86, 0xa0]), Buffer.alloc(100_000)]))), 'invalid_csr', 'oversized DER');
  assert.equal(verdict(pem(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))), 'invalid_csr', 'length claiming 4 GB');
  assert.equal(verdict(pem(Buffer.from([0x02, 0x01, 0x00]))), 'invalid_csr', 'an INTEGER, not a CSR');
});

test('a flipped byte in the signature or in the signed body fails the signature check', async () => {
  const d = der((await opensslCsr({ san: `URI:${ID}` })).csr);
  const sigFlip = Buffer.from(d);
  sigFlip[sigFlip.length - 3]! ^= 0x01;
  assert.equal(verdict(pem(sigFlip)), 'csr_signature_invalid');
  const bodyFlip = Buffer.from(d);
  const at = bodyFlip.indexOf(Buffer.from('spiffe'));
  bodyFlip[at + 10]! ^= 0x01;
  assert.equal(verdict(pem(bodyFlip)), 'csr_signature_invalid');
});

test('weak RSA, unsupported curves and SHA-1 signatures are refused', async () => {
  assert.equal(verdict((await opensslCsr({ key: 'rsa:1024', san: `URI:${ID}` })).csr), 'weak_key');
  assert.equal(verdict((await opensslCsr({ key: 'ec:secp256k1', san: `URI:${ID}` })).csr), 'unsupported_key');
  assert.equal(verdict((await opensslCsr({ key: 'ec:P-521', san: `URI:${ID}` })).csr), 'unsupported_key');
  assert.equal(verdict((await opensslCsr({ key: 'rsa:2048', san: `URI:${ID}`, digest: 'sha1' })).csr), 'unsupported_signature_algorithm');
  assert.equal(verdict((await opensslCsr({ key: 'rsa:4096', san: `URI:${ID}`, digest: 'sha512' })).csr), 'ok');
});

test('CSRs asking for CA rights, another identity or extra names are refused with 403 codes', async () => {
  const cases: Array<[Parameters<typeof opensslCsr>[0], string]> = [
    [{ san: `URI:${ID}`, ext: ['basicConstraints=critical,CA:TRUE'] }, 'ca_not_allowed'],
    [{ san: `URI:${ID}`, ext: ['keyUsage=critical,keyCertSign'] }, 'ca_not_allowed'],
    [{ san: 'URI:spiffe://cluster.local/ns/kube-system/sa/admin' }, 'identity_mismatch'],
    [{ san: 'URI:spiffe://evil.example/ns/shop/sa/cart' }, 'identity_mismatch'],
    [{ san: `URI:${ID},URI:spiffe://cluster.local/ns/shop/sa/other` }, 'identity_mismatch'],
    [{ san: `URI:${ID},DNS:cart.shop.svc` }, 'san_not_allowed'],
    [{ san: 'DNS:cart.shop.svc' }, 'san_not_allowed'],
    [{ san: `URI:${ID},IP:10.0.0.1` }, 'san_not_allowed'],
    [{ san: `URI:${ID},email:a@b.c` }, 'san_not_allowed'],
    [{ san: `URI:${ID},otherName:1.2.3.4;UTF8:x` }, 'san_not_allowed'],
    [{ san: `URI:${ID}`, ext: ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'] }, 'ok'],
  ];
  for (const [opts, code] of cases) assert.equal(verdict((await opensslCsr(opts)).csr), code, JSON.stringify(opts));
});

/** mulberry32: a tiny seeded generator, so a failing run can be replayed exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('thousands of seeded mutations of a valid CSR never escape as anything but a MeshidError', async (t) => {
  // The base CSR is a fresh key's unless replayed: ECDSA signatures differ per run, so the seed alone cannot replay it.
  const d = process.env.MESHID_FUZZ_CSR ? Buffer.from(process.env.MESHID_FUZZ_CSR, 'base64') : der((await opensslCsr({ san: `URI:${ID}` })).csr);
  const seed = Number(process.env.MESHID_FUZZ_SEED ?? randomBytes(4).readUInt32BE(0));
  const replay = `replay with MESHID_FUZZ_SEED=${seed} MESHID_FUZZ_CSR=${d.toString('base64')}`;
  t.diagnostic(`seed ${seed}`);
  const next = seeded(seed);
  const seen = new Set<string>();
  for (let i = 0; i < 6000; i++) {
    const m = Buffer.from(d);
    const kind = Math.floor(next() * 3);
    const at = Math.floor(next() * m.length);
    const byte = Math.floor(next() * 256);
    let input = m;
    if (kind === 0) m[at] = byte;
    else if (kind === 1) input = m.subarray(0, at);
    else input = Buffer.concat([m.subarray(0, at), Buffer.from([byte]), m.subarray(at)]);
    try {
      parseCsrDer(input);
      seen.add('parsed');
    } catch (err) {
      assert.ok(err instanceof MeshidError, `mutation ${i} (kind ${kind} at ${at}) threw ${(err as Error)?.stack}; ${replay}`);
      seen.add((err as MeshidError).code);
    }
  }
  assert.ok(seen.has('invalid_csr') && seen.has('csr_signature_invalid'), `${[...seen].join(',')}; ${replay}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { issueWorkloadCertificate } from '../../src/ca/issue.js';
import { buildCsrPem } from '../../src/pki/csr-build.js';
import { generateKeyPair, type KeyAlgorithm } from '../../src/pki/keys.js';
import { CLOCK_SKEW_MS, isSelfMadeRootSubject, SELF_MADE_ROOT_CN_PREFIX } from '../../src/pki/templates.js';
import { makeCa } from '../helpers/ca-material.js';
import { opensslCsr, opensslText, opensslVerify, type OpensslKey } from '../helpers/openssl.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';
const caller = { namespace: 'shop', serviceAccount: 'cart', expiresAt: 0 };
const ttl = { defaultMs: 86_400_000, maxMs: 7 * 86_400_000 };

function issue(ca: ReturnType<typeof makeCa>, csr: string, now = Date.now(), ttlSeconds?: number) {
  return issueWorkloadCertificate({ csr, ttlSeconds }, caller, { ca: ca.material, trustDomain: 'cluster.local', ttl, now, random: randomBytes });
}

for (const [caAlg, leafKey] of [
  ['ec-p256', 'ec:P-256'],
  ['ec-p256', 'ec:P-384'],
  ['ec-p256', 'rsa:2048'],
  ['rsa-2048', 'rsa:3072'],
  ['ec-p384', 'ec:P-256'],
] as Array<[KeyAlgorithm, OpensslKey]>) {
  test(`X509-SVID leaf from an openssl ${leafKey} CSR, ${caAlg} CA: every SPIFFE rule, checked by openssl and node`, async () => {
    const ca = makeCa({ keyAlgorithm: caAlg });
    const { csr } = await opensslCsr({ key: leafKey, san: `URI:${ID}` });
    const now = Date.now();
    const out = issue(ca, csr, now);
    const [leafPem, ...chain] = out.certChain;
    const roots = out.trustBundle.join('');
    assert.equal(out.spiffeId, ID);

    assert.equal(await opensslVerify(leafPem!, chain, roots, 'sslclient'), 'leaf.pem: OK');
    assert.equal(await opensslVerify(leafPem!, chain, roots, 'sslserver'), 'leaf.pem: OK');

    const text = await opensslText(leafPem!);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    const rsa = leafKey.startsWith('rsa');
    assert.match(text, new RegExp(`X509v3 Key Usage: critical\\n\\s+${rsa ? 'Digital Signature, Key Encipherment' : 'Digital Signature'}\\n`));
    assert.doesNotMatch(text, /Certificate Sign|CRL Sign/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart\n/);

    const leaf = new X509Certificate(leafPem!);
    assert.equal(leaf.subjectAltName, `URI:${ID}`, 'exactly one URI SAN and nothing else');
    assert.equal(leaf.ca, false);
    assert.ok(leaf.serialNumber.replace(/^0+/, '').length * 4 >= 64, 'serial of at least 64 bits');
    assert.ok(Date.parse(leaf.validFrom) <= now - CLOCK_SKEW_MS + 1000, 'notBefore backdated for clock skew');
    assert.ok(Math.abs(Date.parse(leaf.validTo) - (now + 86_400_000)) < 2000, 'default TTL 24h');
    assert.ok(leaf.verify(new X509Certificate(chain[0]!).publicKey));
    assert.equal(out.expiresAt, new Date(leaf.validTo).toISOString());
  });
}

test('serials are random and distinct', () => {
  const ca = makeCa();
  const keys = generateKeyPair();
  const csr = buildCsrPem(keys.privateKey, keys.publicKey, ID);
  const serials = new Set(Array.from({ length: 50 }, () => new X509Certificate(issue(ca, csr).certChain[0]!).serialNumber));
  assert.equal(serials.size, 50);
});

test('signing CA and root follow the X509-SVID rules for signing certificates', async () => {
  const ca = makeCa();
  const signingPem = ca.material.chain[0]!;
  const rootPem = ca.material.roots[0]!;
  for (const pem of [signingPem, rootPem]) {
    const text = await opensslText(pem);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, /X509v3 Subject Alternative Name: \n\s+URI:spiffe:\/\/cluster.local\n/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.doesNotMatch(text, /Extended Key Usage/);
  }
  assert.match(await opensslText(signingPem), /CA:TRUE, pathlen:0/);
  assert.equal(await opensslVerify(signingPem, [], rootPem, 'any'), 'leaf.pem: OK');
});

test('NotAfter is never beyond the signing certificate, and TTL rules hold', () => {
  const now = Date.now();
  const ca = makeCa({ now, rootTtlMs: 3_600_000 });
  const keys = generateKeyPair();
  const csr = buildCsrPem(keys.privateKey, keys.publicKey, ID);
  const capped = new X509Certificate(issue(ca, csr, now).certChain[0]!);
  assert.ok(Date.parse(capped.validTo) <= Date.parse(ca.material.signingCert.validTo), 'capped by the signing CA');

  const long = makeCa({ now });
  const shortLeaf = new X509Certificate(issue(long, csr, now, 60).certChain[0]!);
  assert.ok(Math.abs(Date.parse(shortLeaf.validTo) - (now + 60_000)) < 2000, 'asked-for shorter TTL granted');
  const longLeaf = new X509Certificate(issue(long, csr, now, 3 * 86400).certChain[0]!);
  assert.ok(Math.abs(Date.parse(longLeaf.validTo) - (now + 3 * 86_400_000)) < 2000, 'longer than default, up to max, granted');
  assert.throws(() => issue(long, csr, now, 8 * 86400), { code: 'ttl_too_long' });
  assert.throws(() => issue(long, csr, now, 5), { code: 'ttl_too_short' });
});

test('a CSR with no SAN at all gets the identity from the token', async () => {
  const ca = makeCa();
  const { csr } = await opensslCsr({ key: 'ec:P-384', subj: '/CN=anything' });
  const out = issue(ca, csr);
  assert.equal(new X509Certificate(out.certChain[0]!).subjectAltName, `URI:${ID}`);
});

test('a root meshid made is told from an operator\'s by its common name, and only by the CN attribute', () => {
  const ca = makeCa();
  assert.equal(isSelfMadeRootSubject(ca.material.rootCerts[0]!.subject), true);
  assert.equal(isSelfMadeRootSubject('O=example\nCN=Example Corp Root'), false);
  assert.equal(isSelfMadeRootSubject(`O=CN=${SELF_MADE_ROOT_CN_PREFIX}x\nCN=Operator Root`), false, 'the prefix inside another attribute does not count');
});

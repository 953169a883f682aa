import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { FileCaStore } from '../../src/ca/file-store.js';
import { makeCa } from '../helpers/ca-material.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { waitFor } from '../helpers/wait.js';
import { mintLocalToken } from '../../src/ca/auth/local-issuer.js';
import { meshid, spawnServe } from '../helpers/cli.js';
import { send } from '../helpers/http.js';
import { istioAgentCsr, istioClient, type IstioCallResult } from '../helpers/istio-client.js';
import { opensslCsr, opensslText, opensslVerify, tempDir } from '../helpers/openssl.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';
const FREE_PORTS = ['--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0'];

async function serveLocal(t: { after(fn: () => unknown): void }) {
  const dataDir = await tempDir('istio-ca-');
  const served = await spawnServe(['--local', '--data-dir', dataDir, ...FREE_PORTS]);
  t.after(() => served.child.kill('SIGTERM'));
  const address = /istio-ca=(\S+)/.exec(served.ready)![1]!;
  const monitoring = /monitoring=(\S+)\/metrics/.exec(served.ready)![1]!;
  const roots = await readFile(`${dataDir}/root-cert.pem`, 'utf8');
  const client = istioClient(address, roots);
  t.after(() => client.close());
  return { ...served, dataDir, address, monitoring, roots, client };
}

function assertIssued(r: IstioCallResult, what: string): void {
  assert.equal(r.code, status.OK, `${what}: ${r.details}`);
}

test('istio-agent CSRs (P-256, RSA-2048, no SAN) to `meshid serve --local` over gRPC/TLS: a chain leaf first, root last, that openssl verifies', async (t) => {
  const s = await serveLocal(t);
  assert.match(s.ready, /^meshid ready: .* istio-ca=127\.0\.0\.1:\d+ trust-bundle=/);
  const cli = await meshid(['token', '--namespace', 'shop', '--service-account', 'cart', '--audience', 'istio-ca', '--data-dir', s.dataDir]);
  assert.equal(cli.code, 0, cli.stderr);
  const token = cli.stdout.trim();

  for (const [key, san] of [['ec-p256', ID], ['rsa-2048', ID], ['ec-p256', undefined]] as const) {
    const what = `${key} ${san ? 'with' : 'without'} a SAN`;
    const { csr, keyPem } = istioAgentCsr(key, san);
    const before = Date.now();
    const r = await s.client.create({ csr, validity_duration: key === 'rsa-2048' ? 3600 : 0 }, token);
    assertIssued(r, what);
    assert.equal(r.chain.length, 3, `${what}: leaf, signing CA, root`);
    assert.ok(r.chain.every((pem) => /^-----BEGIN CERTIFICATE-----\n[^]+\n-----END CERTIFICATE-----\n$/.test(pem)), `${what}: one PEM per element, each ending in a newline`);
    const [leafPem, signing, root] = r.chain as [string, string, string];
    assert.equal(root, s.roots, `${what}: the root last`);
    assert.equal(await opensslVerify(leafPem, [signing], s.roots, 'sslclient'), 'leaf.pem: OK');
    assert.equal(await opensslVerify(leafPem, [signing], s.roots, 'sslserver'), 'leaf.pem: OK');

    const leaf = new X509Certificate(leafPem);
    assert.equal(leaf.subjectAltName, `URI:${ID}`, `${what}: exactly the caller's SPIFFE ID, from the token`);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), `${what}: the key of the CSR`);
    const text = await opensslText(leafPem);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature/);
    assert.doesNotMatch(text, /Certificate Sign|CRL Sign/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    const ttlMs = Date.parse(leaf.validTo) - before;
    const want = key === 'rsa-2048' ? 3_600_000 : 86_400_000;
    assert.ok(Math.abs(ttlMs - want) < 5000, `${what}: validity_duration ${want / 1000}s (0 = the default TTL), got ${ttlMs} ms`);
  }

  const meshidAudience = await mintLocalToken({ dataDir: s.dataDir, namespace: 'shop', serviceAccount: 'cart' });
  assertIssued(await s.client.create({ csr: (await opensslCsr({ key: 'rsa:2048', san: `URI:${ID}` })).csr }, meshidAudience), 'an openssl RSA CSR with a meshid-ca token');
  assert.ok(!s.stderr().includes(token), 'no token in the logs');
});

test('refusals get the right gRPC status and a one-line message, and the next good call is still answered', async (t) => {
  const s = await serveLocal(t);
  const token = (aud = 'istio-ca', sa = 'cart') => mintLocalToken({ dataDir: s.dataDir, namespace: 'shop', serviceAccount: sa, audience: aud });
  const good = istioAgentCsr('ec-p256', ID).csr;
  const impersonate = (value: object) => ({ csr: good, metadata: { fields: { ImpersonatedIdentity: value } } });
  const huge = `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(1024 * 1024)}\n-----END CERTIFICATE REQUEST-----\n`;
  // Not a protobuf message at all; and a request whose metadata (field 4) holds a map entry that is cut short.
  const garbage = Buffer.from([0xff, 0xff, 0xff]);
  const garbledMetadata = Buffer.from([0x22, 0x03, 0x0a, 0x01, 0x61]);

  // The last field: whether the handler sees the call and counts it (grpc-js refuses an oversized message before it).
  const cases: Array<[string, () => Promise<IstioCallResult>, status, RegExp, boolean]> = [
    ['no token', async () => s.client.create({ csr: good }), status.UNAUTHENTICATED, /^token_missing: /, true],
    ['not a bearer token', async () => s.client.create({ csr: good }, undefined, { authorization: 'Basic c2hvcDpjYXJ0' }), status.UNAUTHENTICATED, /^token_malformed: /, true],
    ['wrong audience', async () => s.client.create({ csr: good }, await token('kubernetes')), status.UNAUTHENTICATED, /^token_audience_invalid: the token audience is not meshid-ca or istio-ca/, true],
    ['foreign SAN', async () => s.client.create({ csr: istioAgentCsr('ec-p256', 'spiffe://cluster.local/ns/shop/sa/admin').csr }, await token()), status.PERMISSION_DENIED, /^identity_mismatch: the CSR asks for spiffe:\/\/cluster.local\/ns\/shop\/sa\/admin but the token authenticates spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart$/, true],
    ['impersonation by a caller not listed', async () => s.client.create(impersonate({ string_value: 'spiffe://cluster.local/ns/shop/sa/admin' }), await token()), status.PERMISSION_DENIED, /^impersonation_not_allowed: shop\/cart may not ask for the certificate of shop\/admin: only accounts listed in --ca-trusted-node-accounts/, true],
    ['bad CSR', async () => s.client.create({ csr: 'not a CSR' }, await token()), status.INVALID_ARGUMENT, /^invalid_\w+: /, true],
    ['no CSR', async () => s.client.create({ validity_duration: 60 }, await token()), status.INVALID_ARGUMENT, /^csr_missing: /, true],
    ['1 MB CSR', async () => s.client.create({ csr: huge }, await token()), status.RESOURCE_EXHAUSTED, /larger than max \(\d+ vs 65536\)/, false],
    ['validity above the maximum', async () => s.client.create({ csr: good, validity_duration: 30 * 86400 }, await token()), status.INVALID_ARGUMENT, /^ttl_too_long: /, true],
    ['negative validity', async () => s.client.create({ csr: good, validity_duration: -5 }, await token()), status.INVALID_ARGUMENT, /^invalid_request: validity_duration -5 must be/, true],
    ['metadata ImpersonatedIdentity not a string', async () => s.client.create(impersonate({ number_value: 7 }), await token()), status.INVALID_ARGUMENT, /^invalid_metadata: metadata ImpersonatedIdentity must be a string/, true],
    ['metadata ImpersonatedIdentity not a SPIFFE ID', async () => s.client.create(impersonate({ string_value: '../../etc' }), await token()), status.INVALID_ARGUMENT, /^invalid_metadata: metadata ImpersonatedIdentity "..\/..\/etc" is not a SPIFFE ID/, true],
    ['metadata ImpersonatedIdentity of another trust domain', async () => s.client.create(impersonate({ string_value: 'spiffe://evil.example/ns/shop/sa/cart' }), await token()), status.PERMISSION_DENIED, /^identity_mismatch: metadata ImpersonatedIdentity names trust domain evil.example/, true],
    ['bytes that are no IstioCertificateRequest', async () => s.client.create(garbage, await token()), status.INVALID_ARGUMENT, /^invalid_request: the request is not an IstioCertificateRequest message/, true],
    ['metadata bytes that are no Struct', async () => s.client.create(garbledMetadata, await token()), status.INVALID_ARGUMENT, /^invalid_request: the request is not an IstioCertificateRequest message \(index out of range/, true],
  ];
  const expected = new Map<string, number>([['issued', cases.length]]);
  for (const [what, call, code, details, counted] of cases) {
    const r = await call();
    assert.equal(r.code, code, `${what}: ${status[r.code]} ${r.details}`);
    assert.match(r.details, details, what);
    assert.doesNotMatch(r.details, /\n|\bat [^ ]+ \(|node:internal|\.js:\d+/, `${what}: one line, no stack trace`);
    const result = /^([a-z_]+): /.exec(r.details)?.[1];
    if (counted) expected.set(result!, (expected.get(result!) ?? 0) + 1);
    assertIssued(await s.client.create({ csr: good }, await token()), `the good call after "${what}"`);
    assert.equal(s.child.exitCode, null, `${what}: the server is still running`);
  }
  const metrics = (await send(`${s.monitoring}/metrics`)).text;
  const counts = Object.fromEntries([...metrics.matchAll(/^meshid_istio_ca_certificates_total\{result="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(counts, Object.fromEntries(expected), 'CreateCertificate calls counted by result');
  assert.ok(!s.stderr().includes(good.split('\n')[1]!), 'no CSR in the logs');
  assert.doesNotMatch(s.stderr(), /"level":50/, 'no refusal is logged as a server error');
});

/** The certificate a TLS server presents, as a client trusting `roots` sees it. */
function servedCert(host: string, port: number, roots: string, alpn: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca: roots, servername: 'localhost', ALPNProtocols: [alpn] }, () => {
      resolve(new X509Certificate(socket.getPeerCertificate().raw));
      socket.end();
    });
    socket.on('error', reject);
  });
}

test('a new signing CA: the Istio CA API serves a certificate it signed, as the REST API does, without a restart', async (t) => {
  const ca = await startLocalCa(t);
  const [host, port] = [ca.istioCaAddress.replace(/:\d+$/, ''), Number(ca.istioCaAddress.split(':').pop())];
  const restPort = Number(new URL(ca.caUrl).port);
  assert.ok((await servedCert(host, port, await ca.roots(), 'h2')).checkIssued(ca.authority.current().signingCert));

  const store = new FileCaStore(ca.dataDir);
  const next = makeCa();
  await store.write(next.files, (await store.read())!.version);
  await waitFor(() => ca.authority.current().signingCert.fingerprint256 === next.material.signingCert.fingerprint256, { timeoutMs: 5000, what: 'the new CA loaded' });
  const roots = next.material.roots.join('');
  for (const [name, p, alpn] of [['Istio CA API', port, 'h2'], ['REST API', restPort, 'http/1.1']] as const) {
    const served = await servedCert(host, p, roots, alpn);
    assert.ok(served.checkIssued(next.material.signingCert) && served.verify(next.material.signingCert.publicKey), `${name}: signed by the new signing CA`);
  }
  const client = istioClient(ca.istioCaAddress, roots);
  t.after(() => client.close());
  const r = await client.create({ csr: istioAgentCsr('ec-p256', ID).csr }, await ca.token('shop', 'cart', { audience: 'istio-ca' }));
  assertIssued(r, 'after the change');
  assert.equal(r.chain.at(-1), roots, 'the new root last');
});

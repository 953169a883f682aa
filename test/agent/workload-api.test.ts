import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { startAgent } from '../../src/agent/agent.js';
import { agentConfig, ManualTimers, outageProxy, startCa, tempDir } from './helpers.js';
import { splitDer, workloadClient, type X509SvidResponse } from './workload-client.js';

let cp: ControlPlane;
before(async () => {
  cp = await startCa();
});
after(async () => {
  await cp.close();
});

const ID = 'spiffe://cluster.local/ns/shop/sa/web';
const pemCerts = (text: string) => (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));

/** Decodes one X509SVIDResponse as a SPIFFE library would, and checks every rule of the X.509-SVID profile. */
function decodeSvid(res: X509SvidResponse): { chain: X509Certificate[]; roots: X509Certificate[] } {
  assert.equal(res.svids.length, 1, 'one identity per pod');
  const [svid] = res.svids as [X509SvidResponse['svids'][0]];
  assert.equal(svid.spiffe_id, ID);
  const chain = splitDer(svid.x509_svid).map((d) => new X509Certificate(d));
  const roots = splitDer(svid.bundle).map((d) => new X509Certificate(d));
  assert.ok(chain.length >= 2, 'leaf and intermediate');
  assert.equal(chain[0]!.subjectAltName, `URI:${ID}`, 'the leaf comes first');
  for (let i = 0; i + 1 < chain.length; i++) assert.ok(chain[i]!.verify(chain[i + 1]!.publicKey), `certificate ${i} is signed by ${i + 1}`);
  assert.ok(roots.some((r) => chain.at(-1)!.checkIssued(r) && chain.at(-1)!.verify(r.publicKey)), 'the chain verifies to the bundle');
  const key = createPrivateKey({ key: svid.x509_svid_key, format: 'der', type: 'pkcs8' });
  assert.ok(createPublicKey(key).equals(chain[0]!.publicKey), 'the PKCS#8 key matches the leaf');
  assert.deepEqual(res.federated_bundles ?? {}, {});
  return { chain, roots };
}

test('FetchX509SVID answers at once with the chain as DER, a PKCS#8 key matching the leaf and the bundle; FetchX509Bundles keys the roots by trust domain', async () => {
  const agent = await startAgent(await agentConfig(cp));
  await agent.ready();
  const c = workloadClient(agent.workload.socketPath);
  try {
    const started = performance.now();
    const s = c.x509Svids();
    const { roots } = decodeSvid(await s.next());
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `first response in ${ms.toFixed(0)} ms`);
    const published = pemCerts(await readFile(cp.trustBundlePath, 'utf8'));
    assert.deepEqual(roots.map((r) => r.fingerprint256), published.map((r) => r.fingerprint256), 'the bundle is the CA\'s published trust bundle');
    await s.silence(200);

    const b = c.x509Bundles();
    const bundles = (await b.next()).bundles;
    assert.deepEqual(Object.keys(bundles), ['spiffe://cluster.local'], 'keyed by the SPIFFE ID of the trust domain');
    assert.deepEqual(splitDer(bundles['spiffe://cluster.local']!).map((d) => new X509Certificate(d).fingerprint256), published.map((r) => r.fingerprint256));
    assert.equal(agent.workload.streamCount, 2);
    s.close();
    b.close();
  } finally {
    c.close();
    await agent.stop();
  }
});

test('a rotation is pushed on the open stream with a new serial and key; a trust bundle file change is pushed on both streams', async () => {
  const timers = new ManualTimers();
  const config = await agentConfig(cp, { ttlSeconds: 10 });
  const rootFile = join(await tempDir(), 'root-cert.pem');
  await copyFile(config.caRootFile, rootFile);
  const agent = await startAgent({ ...config, caRootFile: rootFile }, { timers });
  timers.fireLongest();
  await agent.ready();
  const c = workloadClient(agent.workload.socketPath);
  try {
    const s = c.x509Svids();
    const b = c.x509Bundles();
    const first = decodeSvid(await s.next());
    const firstBundle = await b.next();

    timers.fireLongest();
    const rotated = decodeSvid(await s.next());
    assert.notEqual(rotated.chain[0]!.serialNumber, first.chain[0]!.serialNumber, 'a new leaf');
    assert.ok(!rotated.chain[0]!.publicKey.equals(first.chain[0]!.publicKey), 'a new key');
    await b.silence(150);

    // A new root appears in the mounted bundle (the prepare step of a root rotation); any other CA
    // certificate stands in for it.
    const newRoot = first.chain[1]!.toString();
    await writeFile(rootFile, `${await readFile(rootFile, 'utf8')}${newRoot}`);
    const poll = timers.pending.find((p) => p.ms === config.bundlePollMs)!;
    timers.pending = timers.pending.filter((p) => p !== poll);
    poll.fn();
    const withNewRoot = decodeSvid(await s.next());
    assert.equal(withNewRoot.roots.length, first.roots.length + 1);
    assert.equal(withNewRoot.chain[0]!.serialNumber, rotated.chain[0]!.serialNumber, 'same SVID, new bundle');
    const bundle = (await b.next()).bundles['spiffe://cluster.local']!;
    assert.equal(splitDer(bundle).length, splitDer(firstBundle.bundles['spiffe://cluster.local']!).length + 1);
  } finally {
    c.close();
    await agent.stop();
  }
});

test('before the first SVID: FetchX509SVID ends with UNAVAILABLE at once; once the CA answers, a new stream gets it', async () => {
  const proxy = await outageProxy(cp.caUrl);
  proxy.down = true;
  const agent = await startAgent({ ...(await agentConfig(cp)), caUrl: proxy.url });
  const c = workloadClient(agent.workload.socketPath);
  try {
    const early = await c.x509Svids().status;
    assert.equal(early.code, grpc.status.UNAVAILABLE);
    assert.match(early.details, /no X\.509-SVID yet/);
    proxy.down = false;
    await agent.ready();
    decodeSvid(await c.x509Svids().next());
  } finally {
    c.close();
    await agent.stop();
    await proxy.close();
  }
});

test('without the workload.spiffe.io header, or with any value but "true", every method is INVALID_ARGUMENT', async () => {
  const agent = await startAgent(await agentConfig(cp));
  await agent.ready();
  try {
    const variants: Array<Record<string, string | string[]>> = [{}, { 'workload.spiffe.io': 'True' }, { 'workload.spiffe.io': 'false' }, { 'workload.spiffe.io': ['true', 'true'] }];
    for (const headers of variants) {
      const c = workloadClient(agent.workload.socketPath, headers);
      const what = JSON.stringify(headers);
      for (const s of [c.x509Svids(), c.x509Bundles(), c.jwtBundles()]) {
        const st = await s.status;
        assert.equal(st.code, grpc.status.INVALID_ARGUMENT, what);
        assert.match(st.details, /workload\.spiffe\.io/);
        assert.equal(s.received.length, 0, `${what}: nothing is sent`);
      }
      await assert.rejects(c.jwtSvid(['db']), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /workload\.spiffe\.io/.test(e.details));
      await assert.rejects(c.validate('a.b.c', 'db'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
      c.close();
    }
    assert.equal(agent.workload.streamCount, 0);
  } finally {
    await agent.stop();
  }
});

test('the socket is open to every uid of the pod, replaces a stale file, and is removed on stop', async () => {
  const config = await agentConfig(cp);
  await writeFile(config.workloadSocket, 'stale');
  const agent = await startAgent(config);
  const st = await stat(config.workloadSocket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o666);
  await agent.stop();
  await assert.rejects(stat(config.workloadSocket), /ENOENT/);
});

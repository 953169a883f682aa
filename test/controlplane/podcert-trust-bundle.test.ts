import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { parseRotationState, type RotationState } from '../../src/ca/rotation/state.js';
import { caCommand } from '../../src/cli/ca.js';
import { ManualClock } from '../../src/common/clock.js';
import { POD_CERTIFICATE } from '../../src/common/pod-contract.js';
import { type FakeCluster, NS, publishedBundle, startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { createRequest, requestBody, waitForAnswer } from '../helpers/kubelet-podcert.js';
import { opensslVerify } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: Array<() => unknown> = [];
const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

const ctb = (cluster: FakeCluster) => cluster.fake.get('clustertrustbundles', undefined, POD_CERTIFICATE.clusterTrustBundle) as
  { spec: { signerName: string; trustBundle: string }; metadata: { labels?: Record<string, string> } } | undefined;
const rootsIn = (pem: string | undefined) => (pem?.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? []).map((p) => new X509Certificate(p).fingerprint256);

describe('ClusterTrustBundle meshid.io:svid:roots through a root rotation', () => {
  it('holds the trust bundle at every phase (prepare: both roots, activate: both, retire: the new one) and pod certificates chain to it', async () => {
    const clock = new ManualClock(Date.now());
    const cluster = await startFakeCluster(scope);
    // The API's one-hour floor for pod certificates needs a maximum TTL of at least that.
    const cp = await startReplica(scope, cluster.fake, { identity: 'meshid-0', clock, workloadCertTtlMs: 3_600_000, maxWorkloadCertTtlMs: 3_600_000, bundlePropagationDelayMs: 1000 });
    const kc = cluster.fake.kubeConfig();
    const rotation = (): RotationState => {
      const secret = cluster.fake.get('secrets', NS, 'meshid-ca') as unknown as { data: Record<string, string> };
      return parseRotationState(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])));
    };
    const bundleNow = () => cp.authority.current().roots.join('');
    const issue = async (name: string) => {
      await createRequest(kc, requestBody({ namespace: 'shop', name, serviceAccount: 'cart' }));
      const chain = (await waitForAnswer(kc, 'shop', name)).status!.certificateChain!.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!;
      return { leaf: chain[0]!, rest: chain.slice(1) };
    };

    const oldRoots = bundleNow();
    await waitFor(() => ctb(cluster)?.spec.trustBundle === oldRoots, { what: 'the ClusterTrustBundle created' });
    assert.equal(ctb(cluster)!.spec.signerName, POD_CERTIFICATE.signer);
    assert.equal(ctb(cluster)!.metadata.labels?.['app.kubernetes.io/managed-by'], 'meshid');
    const before = await issue('before');

    const io = { stdout: () => {}, stderr: () => {} };
    assert.equal(await caCommand(['rotate-root', '--cluster', '--kubeconfig', await cluster.kubeconfigFile(), '--namespace', NS], io), 0);
    await waitFor(() => rotation().phase === 'prepare' && cp.authority.current().roots.length === 2, { what: 'prepare', timeoutMs: 10_000 });
    const both = bundleNow();
    await waitFor(() => ctb(cluster)?.spec.trustBundle === both, { what: 'the ClusterTrustBundle with both roots' });
    assert.equal(publishedBundle(cluster.fake, 'shop'), both, 'beside the ConfigMaps');
    await waitFor(() => rotation().activateAt !== undefined, { what: 'the bundle counted as published, ClusterTrustBundle included' });
    assert.equal(await opensslVerify(before.leaf, before.rest, ctb(cluster)!.spec.trustBundle, 'sslclient'), 'leaf.pem: OK', 'old leaves still verify');

    clock.set(rotation().activateAt!);
    await waitFor(() => rotation().phase === 'activate', { what: 'activate', timeoutMs: 10_000 });
    await waitFor(() => cp.authority.current().signingCert.fingerprint256 !== new X509Certificate(before.rest[0]!).fingerprint256, { what: 'the new CA signing' });
    const during = await issue('during');
    assert.equal(ctb(cluster)!.spec.trustBundle, both, 'activate keeps both roots');
    for (const leaf of [before, during]) assert.equal(await opensslVerify(leaf.leaf, leaf.rest, ctb(cluster)!.spec.trustBundle, 'sslclient'), 'leaf.pem: OK');

    clock.set(rotation().retireAt!);
    await waitFor(() => rotation().phase === 'idle' || rotation().phase === 'retire', { what: 'retire', timeoutMs: 10_000 });
    await waitFor(() => cp.authority.current().roots.length === 1, { what: 'the old root retired' });
    const newRoots = bundleNow();
    assert.notEqual(newRoots, oldRoots);
    await waitFor(() => ctb(cluster)?.spec.trustBundle === newRoots, { what: 'the ClusterTrustBundle without the old root' });
    assert.deepEqual(rootsIn(ctb(cluster)!.spec.trustBundle), rootsIn(newRoots));
    assert.equal(await opensslVerify(during.leaf, during.rest, newRoots, 'sslclient'), 'leaf.pem: OK', 'a leaf of the new CA chains to the remaining root');
    assert.ok(cluster.fake.calls.some((c) => c.verb === 'attest' && c.name === POD_CERTIFICATE.signer), 'the API server checked attest on the signer');
  });

  it('uses v1 where the API serves it, and skips ClusterTrustBundles where it has none', async () => {
    const cluster = await startFakeCluster(scope);
    cluster.fake.served = { podcertificaterequests: ['v1beta1', 'v1'], clustertrustbundles: [] };
    const cp = await startReplica(scope, cluster.fake, { identity: 'meshid-0' });
    await waitFor(() => cluster.fake.calls.some((c) => c.resource === 'podcertificaterequests' && c.verb === 'watch'), { what: 'the signer watching' });
    cluster.fake.put('podcertificaterequests', requestBody({ namespace: 'shop', name: 'r1' }) as never);
    await waitFor(() => cluster.fake.statusWrites.get('shop/r1') === 1, { what: 'the request answered' });
    const versions = new Set(cluster.fake.calls.filter((c) => c.resource.startsWith('podcertificaterequests')).map((c) => c.version));
    assert.deepEqual([...versions], ['v1']);
    await waitFor(() => publishedBundle(cluster.fake, 'shop') === cp.authority.current().roots.join(''), { what: 'the ConfigMaps published' });
    assert.ok(!cluster.fake.calls.some((c) => c.resource === 'clustertrustbundles'), 'no ClusterTrustBundle calls');
  });
});

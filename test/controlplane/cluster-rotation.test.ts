import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRotationState, type RotationState } from '../../src/ca/rotation/state.js';
import { caCommand } from '../../src/cli/ca.js';
import { ManualClock } from '../../src/common/clock.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { chainsTo, type FakeCluster, NS, publishedBundle, requestCert, startFakeCluster, startReplica, webhookCaBundles, webhookHandshake } from '../helpers/fake-cluster.js';
import { waitFor } from '../helpers/wait.js';

describe('root rotation in cluster mode, requested with meshid ca rotate-root --cluster', () => {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  // Shared by both replicas; moved to each deadline the rotation records instead of waiting it out.
  const clock = new ManualClock(Date.now());
  let cluster: FakeCluster;
  let kubeconfig: string;
  let replicas: ControlPlane[];
  let newRoots = '';

  const rotation = (): RotationState => {
    const secret = cluster.fake.get('secrets', NS, 'meshid-ca') as unknown as { data: Record<string, string> };
    return parseRotationState(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])));
  };
  const cli = (args: string[]) => {
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(...s.split('\n').filter(Boolean)), stderr: (s: string) => void out.push(s) };
    return { out, done: caCommand([...args, '--cluster', '--kubeconfig', kubeconfig, '--namespace', NS], io) };
  };
  const allNamespacesHold = (bundle: string) => cluster.fake.list('namespaces').every((ns) => publishedBundle(cluster.fake, ns.metadata.name) === bundle);

  before(async () => {
    cluster = await startFakeCluster(scope);
    kubeconfig = await cluster.kubeconfigFile();
    const o = { clock, workloadCertTtlMs: 20_000, maxWorkloadCertTtlMs: 20_000, bundlePropagationDelayMs: 1000 };
    replicas = await Promise.all(['meshid-a', 'meshid-b'].map((identity) => startReplica(scope, cluster.fake, { identity, ...o })));
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('runs to idle: the leader publishes each bundle everywhere, both replicas end signing with the new CA, the webhook caBundle follows', async () => {
    const [a, b] = replicas as [ControlPlane, ControlPlane];
    const oldRoots = a.authority.current().roots.join('');
    const oldSigning = a.authority.current().signingCert.fingerprint256;
    await waitFor(() => allNamespacesHold(oldRoots) && webhookCaBundles(cluster.fake).every((c) => c === oldRoots), { what: 'the first bundle published' });

    // One namespace's ConfigMap cannot be written for now, so the new bundle's progress is there to see.
    let holdShop = true;
    cluster.fake.forbid = (c) => holdShop && c.resource === 'configmaps' && c.namespace === 'shop' && c.verb === 'update';
    const run = cli(['rotate-root', '--wait']);
    await waitFor(() => run.out.some((l) => /2\/3 namespaces have it/.test(l)), { what: 'publication progress from the CLI', timeoutMs: 5000 });
    assert.match(run.out.join('\n'), /root rotation \S+ requested in secret meshid-system\/meshid-ca/);
    assert.match(run.out.join('\n'), /rotation: prepare \(\S+\): the trust bundle with the new root to be published everywhere \(2\/3 namespaces have it\)/);
    assert.equal(rotation().publishedAt, undefined, 'the new CA waits while one namespace lacks the bundle');
    holdShop = false;
    cluster.fake.put('namespaces', { metadata: { name: 'late' } });

    await waitFor(() => rotation().activateAt !== undefined, { what: 'the bundle published everywhere' });
    clock.set(Math.max(clock.now(), rotation().activateAt!));
    await waitFor(() => run.out.some((l) => /rotation: activate \(\S+\): leaves signed by the old CA to expire, then the old root is retired, \d+s left/.test(l)), { what: 'the CLI showing activation' });
    clock.set(Math.max(clock.now(), rotation().retireAt!));
    assert.equal(await run.done, 0);
    assert.match(run.out.at(-1)!, /root rotation \S+ complete: the new root is the only trusted root and the new CA signs/);

    newRoots = a.authority.current().roots.join('');
    assert.notEqual(newRoots, oldRoots);
    assert.equal(a.authority.current().roots.length, 1, 'the old root is retired');
    await waitFor(() => b.authority.current().roots.join('') === newRoots, { what: 'the other replica reloading' });
    await waitFor(() => allNamespacesHold(newRoots), { what: 'the new bundle in every namespace' });
    await waitFor(() => webhookCaBundles(cluster.fake).every((c) => c === newRoots), { what: 'the caBundle following' });

    const token = await cluster.token({ namespace: 'shop', serviceAccount: 'cart' });
    for (const cp of [a, b]) {
      assert.equal(await webhookHandshake(cp.webhookUrl, newRoots), null, 'the webhook serves a certificate of the new CA');
      const r = await requestCert(cp, token, newRoots);
      assert.equal(r.status, 200, r.code);
      assert.notEqual(r.chain![0]!.fingerprint256, oldSigning, 'signed by the new CA');
      assert.ok(chainsTo(r.leaf!, r.chain!, [newRoots]));
    }
  });

  it('when the leader leaves, the other replica takes over publishing and rotation', async () => {
    const leader = replicas.find((cp) => cp.isLeader())!;
    const follower = replicas.find((cp) => cp !== leader)!;
    assert.ok(leader && !follower.isLeader());
    await leader.close();
    await waitFor(() => follower.isLeader(), { what: 'the follower taking the lease' });
    cluster.fake.put('namespaces', { metadata: { name: 'after-failover' } });
    await waitFor(() => publishedBundle(cluster.fake, 'after-failover') === newRoots, { what: 'the new leader publishing' });
    const run = cli(['rotate-root']);
    assert.equal(await run.done, 0);
    assert.match(run.out.join('\n'), /the control plane has started it/);
    assert.equal(rotation().phase, 'prepare');
  });
});

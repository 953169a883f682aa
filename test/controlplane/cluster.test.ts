import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCaFiles } from '../../src/ca/material.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { chainsTo, type FakeCluster, NS, publishedBundle, requestCert, startFakeCluster, startReplica, webhookCaBundles, webhookHandshake } from '../helpers/fake-cluster.js';
import { send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

describe('meshid serve in cluster mode: two replicas on one API server', () => {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let cluster: FakeCluster;
  let a: ControlPlane;
  let b: ControlPlane;
  const roots = () => a.authority.current().roots.join('');

  before(async () => {
    cluster = await startFakeCluster(scope);
    // Started at once: both find no CA, both try to create it, one wins and the other uses its.
    [a, b] = await Promise.all([startReplica(scope, cluster.fake, { identity: 'meshid-a' }), startReplica(scope, cluster.fake, { identity: 'meshid-b' })]);
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('agree on one CA, kept in Secret meshid-ca, and exactly one leads', async () => {
    assert.equal(a.authority.current().roots.join(''), b.authority.current().roots.join(''));
    assert.equal(a.authority.current().signingCert.fingerprint256, b.authority.current().signingCert.fingerprint256);
    const secret = cluster.fake.get('secrets', NS, 'meshid-ca') as { data: Record<string, string> } | undefined;
    assert.ok(secret, 'the CA is in Secret meshid-ca');
    assert.equal(Buffer.from(secret.data['root-cert.pem']!, 'base64').toString(), roots());
    await waitFor(() => a.isLeader() || b.isLeader(), { what: 'a leader' });
    assert.equal([a, b].filter((cp) => cp.isLeader()).length, 1, 'exactly one leader');
    assert.match(a.caUrl, /^https:\/\/127\.0\.0\.1:\d+$/, 'cluster mode listens on every interface (dual stack), reachable on loopback');
    assert.equal(a.host, '::');
    for (const cp of [a, b]) assert.equal((await send(`${cp.monitoringUrl}/readyz`)).status, 200);
  });

  it('a projected token signed by the cluster issuer gets a certificate from either replica; a wrong audience is refused', async () => {
    const token = await cluster.token({ namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'uid-cart-0' } });
    for (const cp of [a, b]) {
      const r = await requestCert(cp, token, roots());
      assert.equal(r.status, 200, `${cp.caUrl}: ${r.code}`);
      assert.equal(r.leaf!.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart');
      assert.deepEqual(r.trustBundle, a.authority.current().roots, 'same trust bundle from both replicas');
      assert.ok(chainsTo(r.leaf!, r.chain!, r.trustBundle!), 'the chain verifies against the bundle');
    }
    const wrong = await requestCert(b, await cluster.token({ namespace: 'shop', serviceAccount: 'cart', audience: 'api' }), roots());
    assert.deepEqual([wrong.status, wrong.code], [401, 'token_audience_invalid']);
    assert.ok(cluster.fake.calls.some((c) => c.path === '/openid/v1/jwks'), 'keys come from the cluster issuer');
  });

  it('the leader publishes the bundle ConfigMap to every namespace, including one created later', async () => {
    await waitFor(() => ['meshid-system', 'default', 'shop'].every((ns) => publishedBundle(cluster.fake, ns) === roots()), { what: 'the bundle in every namespace' });
    cluster.fake.put('namespaces', { metadata: { name: 'late' } });
    await waitFor(() => publishedBundle(cluster.fake, 'late') === roots(), { what: 'the bundle in a new namespace' });
  });

  it('the webhook caBundle is set, and the API server\'s TLS handshake to either replica succeeds with it', async () => {
    await waitFor(() => webhookCaBundles(cluster.fake).every((c) => c === roots()), { what: 'the caBundle patch' });
    const [caBundle] = webhookCaBundles(cluster.fake);
    for (const cp of [a, b]) assert.equal(await webhookHandshake(cp.webhookUrl, caBundle!), null);
    const stranger = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes })['root-cert.pem']!;
    assert.match(String(await webhookHandshake(a.webhookUrl, stranger)), /unable to verify|self.signed|issuer/i, 'another CA\'s bundle does not verify it');
  });
});

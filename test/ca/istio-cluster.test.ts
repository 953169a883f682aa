import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { CLUSTER_TIMING } from '../../src/controlplane/cluster-timing.js';
import { parseServeConfig } from '../../src/controlplane/config.js';
import { LeaderDuties } from '../../src/controlplane/leader-duties.js';
import { bundleConfigMapNames } from '../../src/kube/bundle-census.js';
import { createKubeClients } from '../../src/kube/client.js';
import { makeCa } from '../helpers/ca-material.js';
import { type FakeCluster, NS, startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { istioAgentCsr, istioClient, type IstioCallResult } from '../helpers/istio-client.js';
import { opensslVerify } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';

const TD = 'spiffe://cluster.local';
const ZTUNNEL = { namespace: 'istio-system', serviceAccount: 'ztunnel' };

/** Two nodes: ztunnel on each; shop/cart and a finished shop/batch job on node-a, shop/admin on node-b. */
async function cluster(t: { after(fn: () => unknown): void }): Promise<FakeCluster> {
  const c = await startFakeCluster(t);
  c.fake.put('namespaces', { metadata: { name: 'istio-system' } });
  const pod = (namespace: string, name: string, serviceAccountName: string, nodeName: string, phase = 'Running') =>
    c.fake.put('pods', { metadata: { name, namespace, uid: `uid-${name}` }, spec: { nodeName, serviceAccountName, containers: [{ name: 'c', image: 'x' }] }, status: { phase } });
  pod('istio-system', 'ztunnel-a', 'ztunnel', 'node-a');
  pod('istio-system', 'ztunnel-b', 'ztunnel', 'node-b');
  pod('shop', 'cart-0', 'cart', 'node-a');
  pod('shop', 'batch-0', 'batch', 'node-a', 'Succeeded');
  pod('shop', 'admin-0', 'admin', 'node-b');
  return c;
}

/** A token the kubelet would project into the named pod: bound to it, naming its node. */
function podToken(c: FakeCluster, namespace: string, serviceAccount: string, pod: string, audience = 'istio-ca'): Promise<string> {
  return c.token({ namespace, serviceAccount, pod: { name: pod, uid: `uid-${pod}` }, audience });
}

const asFor = (id: string | undefined, csrId = id) => ({ csr: istioAgentCsr('ec-p256', csrId).csr, ...(id ? { metadata: { fields: { ImpersonatedIdentity: { string_value: id } } } } : {}) });

test('ztunnel impersonation in cluster mode: allowed for a listed account on the pod\'s node, refused otherwise, with the right status', async (t) => {
  const c = await cluster(t);
  const cp = await startReplica(t, c.fake, { identity: 'meshid-0', caTrustedNodeAccounts: [ZTUNNEL], istioCompat: true });
  const roots = cp.authority.current().roots.join('');
  const client = istioClient(cp.istioCaAddress, roots);
  t.after(() => client.close());
  const ztunnelA = await podToken(c, 'istio-system', 'ztunnel', 'ztunnel-a');
  const ztunnelB = await podToken(c, 'istio-system', 'ztunnel', 'ztunnel-b');
  const cart = await podToken(c, 'shop', 'cart', 'cart-0');

  for (const [what, request] of [['with the SAN', asFor(`${TD}/ns/shop/sa/cart`)], ['without a SAN', asFor(`${TD}/ns/shop/sa/cart`, undefined)]] as const) {
    const r = await client.create(request, ztunnelA);
    assert.equal(r.code, status.OK, `${what}: ${r.details}`);
    const leaf = new X509Certificate(r.chain[0]!);
    assert.equal(leaf.subjectAltName, `URI:${TD}/ns/shop/sa/cart`, `${what}: the impersonated identity, not ztunnel's`);
    assert.equal(await opensslVerify(r.chain[0]!, r.chain.slice(1, -1), roots, 'sslclient'), 'leaf.pem: OK');
  }

  const refusals: Array<[string, () => Promise<IstioCallResult>, status, RegExp]> = [
    ['a listed caller on another node', () => client.create(asFor(`${TD}/ns/shop/sa/cart`), ztunnelB), status.PERMISSION_DENIED,
      /^impersonation_not_allowed: no pod of service account shop\/cart runs on node node-b, where istio-system\/ztunnel runs$/],
    ['a caller not listed', () => client.create(asFor(`${TD}/ns/shop/sa/admin`), cart), status.PERMISSION_DENIED,
      /^impersonation_not_allowed: shop\/cart may not ask for the certificate of shop\/admin: only accounts listed in --ca-trusted-node-accounts may impersonate$/],
    ['a listed caller whose token names no node', async () => client.create(asFor(`${TD}/ns/shop/sa/cart`), await c.token({ ...ZTUNNEL, audience: 'istio-ca' })), status.PERMISSION_DENIED,
      /^impersonation_not_allowed: the token of istio-system\/ztunnel names no node/],
    ['a finished pod only', () => client.create(asFor(`${TD}/ns/shop/sa/batch`), ztunnelA), status.PERMISSION_DENIED, /no pod of service account shop\/batch runs on node node-a/],
    ['a CSR for someone else than the impersonated', () => client.create(asFor(`${TD}/ns/shop/sa/cart`, `${TD}/ns/shop/sa/admin`), ztunnelA), status.PERMISSION_DENIED,
      /^identity_mismatch: the CSR asks for spiffe:\/\/cluster.local\/ns\/shop\/sa\/admin but the token authenticates spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart$/],
    ['a wrong audience', async () => client.create(asFor(undefined, `${TD}/ns/shop/sa/cart`), await podToken(c, 'shop', 'cart', 'cart-0', 'kubernetes')), status.UNAUTHENTICATED,
      /^token_audience_invalid: the token audience is not meshid-ca or istio-ca/],
  ];
  for (const [what, call, code, details] of refusals) {
    const r = await call();
    assert.equal(r.code, code, `${what}: ${status[r.code]} ${r.details}`);
    assert.match(r.details, details, what);
    assert.equal((await client.create(asFor(undefined, `${TD}/ns/shop/sa/cart`), cart)).code, status.OK, `the good call after ${what}`);
  }

  c.fake.forbid = (call) => call.resource === 'pods' && call.verb === 'list';
  const unavailable = await client.create(asFor(`${TD}/ns/shop/sa/cart`), ztunnelA);
  assert.equal(unavailable.code, status.UNAVAILABLE, unavailable.details);
  assert.match(unavailable.details, /^pod_check_unavailable: cannot list the pods of shop on node node-a: /);
  c.fake.forbid = () => false;
  assert.ok(c.fake.calls.some((call) => call.verb === 'list' && call.resource === 'pods' && call.namespace === 'shop'), 'the node check went through the API');

  await waitFor(() => ['default', 'shop', 'istio-system', 'meshid-system'].every((ns) =>
    (c.fake.get('configmaps', ns, 'istio-ca-root-cert')?.data as Record<string, string> | undefined)?.['root-cert.pem'] === roots), { what: 'istio-ca-root-cert in every namespace' });
  assert.equal(cp.trustBundle, 'configmap/meshid-ca-root-cert,configmap/istio-ca-root-cert');
});

test('TokenReview mode: the istio-ca audience is asked for, and the node comes from the review', async (t) => {
  const c = await cluster(t);
  const cp = await startReplica(t, c.fake, { identity: 'meshid-0', tokenVerifier: 'tokenreview', caTrustedNodeAccounts: [ZTUNNEL] });
  const client = istioClient(cp.istioCaAddress, cp.authority.current().roots.join(''));
  t.after(() => client.close());
  const allowed = await client.create(asFor(`${TD}/ns/shop/sa/cart`), await podToken(c, 'istio-system', 'ztunnel', 'ztunnel-a'));
  assert.equal(allowed.code, status.OK, allowed.details);
  const other = await client.create(asFor(`${TD}/ns/shop/sa/cart`), await podToken(c, 'istio-system', 'ztunnel', 'ztunnel-b'));
  assert.equal(other.code, status.PERMISSION_DENIED, other.details);
  const wrong = await client.create(asFor(undefined, `${TD}/ns/shop/sa/cart`), await podToken(c, 'shop', 'cart', 'cart-0', 'kubernetes'));
  assert.equal(wrong.code, status.UNAUTHENTICATED, wrong.details);
  assert.match(wrong.details, /^token_rejected: /, 'the API server authenticates no token for an audience it was not asked for');
});

test('--ca-trusted-node-accounts and --istio-compat are checked at startup with a clear message', () => {
  assert.deepEqual(parseServeConfig({ 'ca-trusted-node-accounts': 'istio-system/ztunnel, kube-system/agent' }).caTrustedNodeAccounts,
    [ZTUNNEL, { namespace: 'kube-system', serviceAccount: 'agent' }]);
  for (const [value, message] of [
    ['istio-system', /--ca-trusted-node-accounts entry "istio-system" must be <namespace>\/<service-account>/],
    ['istio-system/ztunnel/x', /entry "istio-system\/ztunnel\/x" must be/],
    ['Istio/ztunnel', /entry "Istio\/ztunnel" must be .*namespace "Istio" is not a valid/],
  ] as const) assert.throws(() => parseServeConfig({ 'ca-trusted-node-accounts': value }), message, value);
  assert.throws(() => parseServeConfig({ local: true, 'ca-trusted-node-accounts': 'istio-system/ztunnel', 'istio-compat': true }),
    /--ca-trusted-node-accounts, --istio-compat only apply to cluster mode/);
  assert.throws(() => parseServeConfig({ 'istio-ca-port': '-1' }), /--istio-ca-port "-1" must be a port number/);
  assert.throws(() => parseServeConfig({ 'istio-ca-port': '15012' }), /--ca-port and --istio-ca-port are both 15012; each server needs a port of its own/);
  assert.equal(parseServeConfig({ 'ca-port': '0', 'istio-ca-port': '0' }).istioCaPort, 0, 'several 0s are fine');
});

test('with --istio-compat a root rotation waits for istio-ca-root-cert too: an Istio sidecar reads only that one', async (t) => {
  const c = await startFakeCluster(t);
  const duties = new LeaderDuties({
    clients: createKubeClients(c.fake.kubeConfig()), namespace: NS, identity: 'meshid-0', clock: systemClock, log: silentLogger, registry: new Registry(),
    timing: { ...CLUSTER_TIMING, leaderRetryMs: 20, watchRetryMs: 50, bundleDebounceMs: 5, bundleResyncMs: 100 }, configMapNames: bundleConfigMapNames(true),
  });
  t.after(() => duties.stop());
  const [first, second] = [makeCa().material.roots.join(''), makeCa().material.roots.join('')];
  duties.setBundle(first);
  duties.start();
  await waitFor(() => duties.isLeader(), { what: 'leading' });
  const published = async (b: string) => duties.publishedEverywhere(b);
  for (let end = Date.now() + 3000; !(await published(first)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await published(first), 'published under both names');

  c.fake.forbid = (call) => call.resource === 'configmaps' && call.name === 'istio-ca-root-cert' && call.verb === 'update';
  duties.setBundle(second);
  await waitFor(() => ['default', 'shop', NS].every((ns) => (c.fake.get('configmaps', ns, 'meshid-ca-root-cert')?.data as Record<string, string>)['root-cert.pem'] === second), { what: 'meshid-ca-root-cert updated' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await published(second), false, 'not published everywhere while istio-ca-root-cert still has the old bundle');
  c.fake.forbid = () => false;
  for (let end = Date.now() + 3000; !(await published(second)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await published(second), 'published once the Istio ConfigMaps have it too (the next resync pass)');
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planBundleWrites } from '../../src/kube/bundle-plan.js';
import { BundleReconciler, ISTIO_BUNDLE_CONFIGMAP } from '../../src/kube/bundle-reconciler.js';
import { bundleConfigMapNames } from '../../src/kube/bundle-census.js';
import { createKubeClients } from '../../src/kube/client.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/wait.js';

const CM = 'meshid-ca-root-cert';
const OWNED = { 'app.kubernetes.io/managed-by': 'meshid' };


describe('planBundleWrites', () => {
  const want = { key: 'root-cert.pem', bundle: 'B', labels: OWNED };
  const cm = (namespace: string, data: Record<string, string>, labels: Record<string, string> = OWNED) => ({ namespace, resourceVersion: `rv-${namespace}`, data, binaryData: {}, labels });

  it('creates where missing, updates what differs, leaves current and terminating namespaces alone', () => {
    const plan = planBundleWrites(
      [{ name: 'new', terminating: false }, { name: 'ok', terminating: false }, { name: 'stale', terminating: false },
        { name: 'extra', terminating: false }, { name: 'unlabelled', terminating: false }, { name: 'gone', terminating: true }],
      [cm('ok', { 'root-cert.pem': 'B' }), cm('stale', { 'root-cert.pem': 'A' }), cm('extra', { 'root-cert.pem': 'B', other: 'x' }),
        cm('unlabelled', { 'root-cert.pem': 'B' }, {}), cm('orphan', { 'root-cert.pem': 'A' })],
      want,
    );
    assert.deepEqual(plan, [
      { namespace: 'new', action: 'create' },
      { namespace: 'stale', action: 'update', resourceVersion: 'rv-stale' },
      { namespace: 'extra', action: 'update', resourceVersion: 'rv-extra' },
      { namespace: 'unlabelled', action: 'update', resourceVersion: 'rv-unlabelled' },
    ]);
  });
});

describe('BundleReconciler against the API', () => {
  let fake: FakeKube;
  let reconciler: BundleReconciler;
  const bundleIn = (ns: string): string | undefined => (fake.get('configmaps', ns, CM)?.data as Record<string, string> | undefined)?.['root-cert.pem'];

  before(async () => {
    fake = await FakeKube.start();
    for (const name of ['default', 'kube-system', 'apps', 'meshid-system']) fake.put('namespaces', { metadata: { name } });
    const clients = createKubeClients(fake.kubeConfig());
    reconciler = new BundleReconciler({ core: clients.core, watch: clients.watch, debounceMs: 10, watchRetryMs: 20 });
  });
  after(async () => {
    reconciler.stop();
    await fake.close();
  });

  it('creates the ConfigMap, labelled as owned, in every namespace and reports progress', async () => {
    assert.deepEqual(reconciler.progress(), { bundle: null, namespaces: 0, published: 0 });
    reconciler.setBundle('ROOT-1');
    const progress = await reconciler.reconcileNow();
    assert.deepEqual(progress, { bundle: 'ROOT-1', namespaces: 4, published: 4 });
    for (const ns of ['default', 'kube-system', 'apps', 'meshid-system']) {
      const cm = fake.get('configmaps', ns, CM)!;
      assert.deepEqual(cm.data, { 'root-cert.pem': 'ROOT-1' });
      assert.deepEqual(cm.metadata.labels, OWNED);
    }
  });

  it('a pass with nothing to do writes nothing', async () => {
    const before = fake.calls.length;
    await reconciler.reconcileNow();
    assert.deepEqual(fake.calls.slice(before).map((c) => c.verb).sort(), ['list', 'list']);
  });

  it('once started, repairs an edited and a deleted ConfigMap and covers a new namespace', async () => {
    reconciler.start();
    fake.put('configmaps', { metadata: { name: CM, namespace: 'apps', labels: OWNED }, data: { 'root-cert.pem': 'tampered' } });
    fake.remove('configmaps', 'default', CM);
    fake.put('namespaces', { metadata: { name: 'team-new' } });
    await waitFor(() => bundleIn('apps') === 'ROOT-1' && bundleIn('default') === 'ROOT-1' && bundleIn('team-new') === 'ROOT-1', { what: 'repairs' });
    await waitFor(() => reconciler.progress().published === 5, { what: 'progress' });
    assert.equal(reconciler.progress().namespaces, 5);
  });

  it('strips labels and keys it does not own back to exactly the bundle', async () => {
    fake.put('configmaps', { metadata: { name: CM, namespace: 'apps' }, data: { 'root-cert.pem': 'ROOT-1', 'evil.pem': 'x' } });
    await waitFor(() => {
      const cm = fake.get('configmaps', 'apps', CM)!;
      return Object.keys(cm.data as object).length === 1 && (cm.metadata.labels as Record<string, string> | undefined)?.['app.kubernetes.io/managed-by'] === 'meshid';
    }, { what: 'repair' });
  });

  it('rewrites every namespace when the bundle changes', async () => {
    reconciler.setBundle('ROOT-1\nROOT-2');
    await waitFor(() => fake.list('configmaps').every((cm) => (cm.data as Record<string, string>)['root-cert.pem'] === 'ROOT-1\nROOT-2'), { what: 'new bundle everywhere' });
    await waitFor(() => reconciler.progress().bundle === 'ROOT-1\nROOT-2' && reconciler.progress().published === 5, { what: 'progress' });
  });

  it('does not count or write into a terminating namespace', async () => {
    fake.put('namespaces', { metadata: { name: 'leaving' }, status: { phase: 'Terminating' } });
    const progress = await reconciler.reconcileNow();
    assert.equal(fake.get('configmaps', 'leaving', CM), undefined);
    assert.deepEqual(progress, { bundle: 'ROOT-1\nROOT-2', namespaces: 5, published: 5 });
  });

  it('recovers at once when a write loses to a concurrent edit (409)', async () => {
    let raced = false;
    fake.beforeCall = (call) => {
      if (!raced && call.verb === 'update' && call.namespace === 'apps') {
        raced = true;
        fake.put('configmaps', { metadata: { name: CM, namespace: 'apps' }, data: { 'root-cert.pem': 'racing-edit' } });
      }
    };
    try {
      const before = fake.calls.length;
      reconciler.setBundle('ROOT-2');
      await waitFor(() => ['apps', 'default', 'kube-system', 'meshid-system', 'team-new'].every((ns) => bundleIn(ns) === 'ROOT-2'), { what: 'converged' });
      assert.ok(raced);
      const appsUpdates = fake.calls.slice(before).filter((c) => c.verb === 'update' && c.namespace === 'apps');
      assert.ok(appsUpdates.length >= 2, 'the refused update was retried');
    } finally {
      fake.beforeCall = () => {};
    }
  });
});

describe('--istio-compat: the bundle also as Istio\'s istio-ca-root-cert', () => {
  it('one reconciler per name keeps both ConfigMaps equal in every namespace, and repairs the Istio one', async (t) => {
    const fake = await FakeKube.start();
    t.after(() => fake.close());
    for (const name of ['default', 'istio-system', 'apps']) fake.put('namespaces', { metadata: { name } });
    const clients = createKubeClients(fake.kubeConfig());
    assert.deepEqual(bundleConfigMapNames(false), [CM]);
    assert.deepEqual(bundleConfigMapNames(true), [CM, 'istio-ca-root-cert']);
    const reconcilers = bundleConfigMapNames(true).map((configMapName) => new BundleReconciler({ core: clients.core, watch: clients.watch, configMapName, debounceMs: 10, watchRetryMs: 20 }));
    t.after(() => reconcilers.forEach((r) => r.stop()));
    const data = (name: string, ns: string) => fake.get('configmaps', ns, name)?.data as Record<string, string> | undefined;
    const converged = (bundle: string) => ['default', 'istio-system', 'apps'].every((ns) => data(CM, ns)?.['root-cert.pem'] === bundle && data(ISTIO_BUNDLE_CONFIGMAP, ns)?.['root-cert.pem'] === bundle);

    for (const r of reconcilers) {
      r.setBundle('ROOT-1');
      r.start();
    }
    await waitFor(() => converged('ROOT-1'), { what: 'both names published' });
    assert.deepEqual(Object.keys(data(ISTIO_BUNDLE_CONFIGMAP, 'apps')!), ['root-cert.pem'], 'the key an Istio sidecar mounts');
    fake.remove('configmaps', 'apps', ISTIO_BUNDLE_CONFIGMAP);
    fake.put('configmaps', { metadata: { name: ISTIO_BUNDLE_CONFIGMAP, namespace: 'default' }, data: { 'root-cert.pem': 'edited' } });
    for (const r of reconcilers) r.setBundle('ROOT-2');
    const done = () => reconcilers.every((r) => JSON.stringify(r.progress()) === JSON.stringify({ bundle: 'ROOT-2', namespaces: 3, published: 3 }));
    await waitFor(() => converged('ROOT-2') && done(), { what: 'repaired and rewritten under both names, and both report it' });
  });
});

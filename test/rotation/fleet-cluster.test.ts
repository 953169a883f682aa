import { after, before, describe, it } from 'node:test';
import { PLUGIN_FILES } from '../../src/ca/store.js';
import { BundleReconciler } from '../../src/kube/bundle-reconciler.js';
import { createKubeClients } from '../../src/kube/client.js';
import { SecretCaStore } from '../../src/kube/secret-store.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { assertRotatedAndIdle, runFleet } from './fleet.js';
import { SimStore } from './sim-store.js';

const WORKLOADS = 1000;

describe('root rotation under a renewing fleet, cluster mode (Secret store and bundle ConfigMaps on the fake API)', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await FakeKube.start();
    for (let i = 0; i < 5; i++) fake.put('namespaces', { metadata: { name: `ns-${i}` } });
  });
  after(() => fake.close());

  it(`${WORKLOADS} workloads stay mutually verifiable throughout`, async (t) => {
    const clients = createKubeClients(fake.kubeConfig());
    const reconciler = new BundleReconciler({ core: clients.core, watch: clients.watch, debounceMs: 5 });
    t.after(() => reconciler.stop());
    const started = Date.now();
    const r = await runFleet({
      store: new SimStore(new SecretCaStore({ core: clients.core, watch: clients.watch, namespace: 'meshid-system' })),
      workloads: WORKLOADS, seed: 2,
      // Agents read the ConfigMap of their own namespace.
      publishedBundle: (ns) => (fake.get('configmaps', ns, 'meshid-ca-root-cert')?.data as Record<string, string> | undefined)?.['root-cert.pem'],
      // What the lead wires from the bundle reconciler: true once the last pass put this exact bundle everywhere.
      publishedEverywhere: async (bundle) => {
        reconciler.setBundle(bundle);
        const p = reconciler.progress();
        return p.bundle === bundle && p.namespaces > 0 && p.published === p.namespaces;
      },
      onInstant: (files) => reconciler.setBundle(files[PLUGIN_FILES.roots]!),
    });
    assertRotatedAndIdle(r);
    t.diagnostic(`cluster: ${r.steps} instants, ${r.issued} issued, ${r.classChecks} class checks standing for ${r.pairsCovered.toExponential(2)} pairs, ${Date.now() - started} ms`);
  });
});

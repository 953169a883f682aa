import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VIEW_FILE } from '../../src/common/pod-contract.js';
import type { WorkloadView } from '../../src/mesh/view.js';
import { labelNamespace, startHarness, type Harness } from './harness.js';
import type { PodRun } from './kubelet.js';
import { plainPod } from './workloads.js';

type Obj = Record<string, any>;

/** The view the pod's agent holds, from the file it keeps in the meshid-certs volume. */
function agentView(run: PodRun): WorkloadView | undefined {
  try {
    return JSON.parse(readFileSync(join(run.volumePath('meshid-certs'), VIEW_FILE), 'utf8'));
  } catch {
    return undefined; // not written yet
  }
}

async function start(h: Harness, pod: Obj): Promise<{ pod: Obj; run: PodRun }> {
  const created = await h.createPod('shop', pod);
  assert.ok('pod' in created, `the pod was refused: ${JSON.stringify(created)}`);
  const run = await h.run(created.pod);
  await run.waitReady(60_000);
  return { pod: created.pod, run };
}

const withAccount = (pod: Obj, sa: string): Obj => ({ ...pod, spec: { ...pod.spec, serviceAccountName: sa } });
const ipOf = (run: PodRun): string => run.pod.status.podIP;
const ipsOf = (run: PodRun): string[] => run.pod.status.podIPs.map((p: Obj) => p.ip);

test('two injected pods and a plain one: each agent\'s view has the other injected pod\'s IP with its SPIFFE ID, and not the plain pod', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const plain = await start(h, plainPod('shop', 'plain', { labels: { 'meshid.io/inject': 'false' } }));
  assert.equal(plain.pod.spec.initContainers, undefined, 'the plain pod has no sidecar');
  const alpha = await start(h, withAccount(plainPod('shop', 'alpha'), 'alpha'));
  const beta = await start(h, withAccount(plainPod('shop', 'beta'), 'beta'));

  for (const [self, other, otherSa] of [[alpha, beta, 'beta'], [beta, alpha, 'alpha']] as const) {
    await self.run.waitFor(() => agentView(self.run)?.destinations.some((d) => d.address === ipOf(other.run)) ?? false, 15_000, `holding a view with ${other.pod.metadata.name}'s IP`);
    const view = agentView(self.run)!;
    assert.equal(view.pod.name, self.pod.metadata.name, 'its own pod\'s view');
    assert.deepEqual(view.pod.ips, ipsOf(self.run));
    assert.ok(ipsOf(other.run).length === 2, 'the pods are dual-stack');
    for (const ip of ipsOf(other.run)) {
      const dest = view.destinations.find((d) => d.address === ip);
      assert.deepEqual(dest, { address: ip, port: null, identities: [`spiffe://cluster.local/ns/shop/sa/${otherSa}`] }, `${ip} (IPv4 and IPv6)`);
    }
    for (const ip of ipsOf(plain.run)) assert.ok(!view.destinations.some((d) => d.address === ip), `the plain pod's IP ${ip} is not a meshed destination`);
    assert.match(view.version, /^[0-9a-z]+:\d+$/);
  }
});

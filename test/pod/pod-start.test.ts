import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { chainsTo, publishedBundle } from '../helpers/fake-cluster.js';
import { opensslVerify } from '../helpers/openssl.js';
import { labelNamespace, startHarness, standinState, type Harness } from './harness.js';
import type { PodRun } from './kubelet.js';
import { probedDeployment, podFromTemplate } from './workloads.js';

type Obj = Record<string, any>;

async function startProbedPod(h: Harness, annotations: Record<string, string> = {}): Promise<{ pod: Obj; run: PodRun }> {
  const created = await h.createPod('shop', podFromTemplate(probedDeployment('shop', annotations)));
  assert.ok('pod' in created, `the pod was refused: ${JSON.stringify(created)}`);
  const run = await h.run(created.pod);
  await run.waitReady(60_000);
  return { pod: created.pod, run };
}

test('a Deployment pod starts: init exits 0, the proxy is ready with its identity and Envoy, then the app, and every rewritten probe follows the app', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const { pod, run } = await startProbedPod(h);

  assert.deepEqual(pod.spec.initContainers.map((c: Obj) => c.name), ['meshid-init', 'meshid-proxy']);
  assert.equal(pod.spec.initContainers[1].restartPolicy, 'Always', 'native sidecar by default');
  for (const c of pod.spec.containers as Obj[]) {
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.equal(c[kind].httpGet.port, 15020, `${c.name}.${kind} rewritten to the agent`);
  }
  const order = ['exit meshid-init 0', 'start meshid-proxy', 'startup meshid-proxy passed', 'start web', 'start worker'].map((e) => run.indexOf(new RegExp(`^${e}`)));
  assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1]!)), `containers in order:\n${run.timeline()}`);

  const state = standinState(run);
  assert.equal(state.ready, true, 'Envoy (the stand-in) is live');
  const [leafPem, ...chainPems] = pems(state.secrets.default.certificateChain);
  const leaf = new X509Certificate(leafPem!);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web', 'the SVID Envoy got is for the pod\'s service account');
  const bundle = publishedBundle(h.fake, 'shop')!;
  assert.equal(state.secrets.ROOTCA.trustedCa, bundle, 'Envoy validates peers with the published bundle');
  assert.ok(chainsTo(leaf, chainPems.map((p) => new X509Certificate(p)), pems(bundle)), 'the SVID chains to the published bundle');
  await opensslVerify(leafPem!, chainPems, bundle, 'sslclient');

  const kinds = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;
  await run.waitFor(() => ['web', 'worker'].every((n) => kinds.every((k) => run.container(n).results[k].length > 0)), 10_000, 'probed once of each kind');
  for (const name of ['web', 'worker']) {
    const c = run.container(name);
    // The startup probe may knock before the app listens; it stops once it passed.
    assert.ok(c.results.startupProbe.at(-1)!.ok, `${name} startupProbe passed: ${JSON.stringify(c.results.startupProbe)}`);
    for (const kind of ['readinessProbe', 'livenessProbe'] as const) assert.ok(c.results[kind].every((r) => r.ok), `${name} ${kind} passes while healthy: ${JSON.stringify(c.results[kind].slice(-3))}`);
  }
  const seen = { web: run.container('web').results.readinessProbe.length, worker: run.container('worker').results.readinessProbe.length };
  for (const name of ['web', 'worker']) process.kill(run.container(name).running!.child.pid!, 'SIGUSR1');
  await run.waitFor(() => ['web', 'worker'].every((n) => {
    const c = run.container(n);
    return !c.ready && c.results.livenessProbe.some((r, i) => !r.ok && i > 0);
  }), 15_000, 'failing its probes');
  for (const name of ['web', 'worker']) {
    const c = run.container(name);
    const after = c.results.readinessProbe.slice(seen[name as 'web' | 'worker']);
    assert.ok(after.some((r) => !r.ok && /HTTP 5\d\d/.test(r.detail)), `${name} readiness fails through the agent: ${JSON.stringify(after.slice(-2))}`);
    assert.ok(c.results.livenessProbe.some((r) => !r.ok), `${name} liveness fails`);
    process.kill(c.running!.child.pid!, 'SIGUSR2');
  }
  await run.waitReady(15_000);
  assert.equal(run.container('web').restarts, 0);
});

test('after a root rotation the proxy\'s Envoy receives the new ROOTCA without a restart', async (t) => {
  const h = await startHarness(t, { serveArgs: ['--bundle-propagation-delay', '1s'] });
  labelNamespace(h.fake, 'shop');
  const { run } = await startProbedPod(h);
  const before = standinState(run).secrets.ROOTCA.trustedCa as string;
  const rotate = await h.meshid(['ca', 'rotate-root', '--cluster']);
  assert.equal(rotate.code, 0, rotate.stderr);
  await run.waitFor(() => {
    try {
      return countCerts(standinState(run).secrets.ROOTCA.trustedCa) === 2;
    } catch {
      return false; // between the stand-in's write and rename
    }
  }, 30_000, 'given both roots');
  assert.equal(countCerts(before), 1);
  assert.equal(run.container('meshid-proxy').restarts, 0);
  assert.equal(run.indexOf(/^exit meshid-proxy/), -1, 'the proxy never exited');
});

function countCerts(pem: string): number {
  return pem.split('BEGIN CERTIFICATE').length - 1;
}

function pems(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
}

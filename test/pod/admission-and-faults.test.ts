import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publishedBundle } from '../helpers/fake-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { labelNamespace, startHarness } from './harness.js';
import { plainPod } from './workloads.js';
import { freePort } from '../helpers/free-port.js';

test('pods the webhook leaves alone run unchanged: opted out, hostNetwork, and in a namespace without the label', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const port = String(await freePort('0.0.0.0'));
  const cases = [
    ['shop', plainPod('shop', 'optout', { labels: { 'meshid.io/inject': 'false' } })],
    ['shop', plainPod('shop', 'hostnet', { hostNetwork: true, args: ['--name', 'hostnet', '--http-port', port] })],
    ['default', plainPod('default', 'plain')],
  ] as const;
  for (const [ns, pod] of cases) {
    if (pod.spec.hostNetwork) {
      pod.spec.containers[0].ports = [{ name: 'http', containerPort: Number(port) }];
    }
    const created = await h.createPod(ns, pod);
    assert.ok('pod' in created, JSON.stringify(created));
    assert.deepEqual(created.pod.spec.containers.map((c: { name: string }) => c.name), ['app'], `${pod.metadata.name}: containers unchanged`);
    assert.equal(created.pod.spec.initContainers, undefined, `${pod.metadata.name}: no init containers`);
    assert.equal(created.pod.metadata.annotations?.['meshid.io/status'], undefined);
    const run = await h.run(created.pod);
    await run.waitReady(20_000);
    assert.ok(run.container('app').results.readinessProbe.some((r) => r.ok), `${pod.metadata.name}: its own probe passes`);
  }
});

test('a pod with an invalid annotation is refused by the API server with a message naming the annotation', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const refused = await h.createPod('shop', plainPod('shop', 'bad', { annotations: { 'sidecar.meshid.io/proxyCPU': 'lots' } }));
  assert.ok('code' in refused, 'refused');
  assert.equal(refused.code, 400);
  assert.match(refused.message, /^admission webhook "namespace\.sidecar-injector\.meshid\.io" denied the request: .*sidecar\.meshid\.io\/proxyCPU/);
  assert.equal(h.fake.list('pods', 'shop').filter((p) => p.metadata.name === 'bad').length, 0, 'nothing stored');
});

test('a proxy whose CA is unreachable stays not ready, says why in one line, and becomes ready once the CA is back', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', plainPod('shop', 'patient'));
  assert.ok('pod' in created, JSON.stringify(created));
  // The bundle ConfigMap is there (the kubelet would wait for it), then the CA goes away.
  await waitFor(() => publishedBundle(h.fake, 'shop') !== undefined, { timeoutMs: 10_000, what: 'the trust bundle in namespace shop' });
  await h.controlPlane.stop();
  const run = await h.run(created.pod);
  await run.waitFor(() => run.containers.has('meshid-proxy'), 10_000, 'past its init container');
  const proxy = run.container('meshid-proxy');
  // Until the agent listens the probe is refused; on a busy machine that can outlast several periods.
  const answered = () => proxy.results.startupProbe.filter((r) => /^HTTP 503/.test(r.detail));
  await run.waitFor(() => answered().length >= 2, 30_000, 'two probes answered by the agent');
  assert.ok(proxy.results.startupProbe.every((r) => !r.ok), JSON.stringify(proxy.results.startupProbe));
  assert.match(answered().at(-1)!.detail, /HTTP 503: not ready: no valid SVID held \(cannot reach the CA at https:\/\/meshid\.meshid-system\.svc:15012/);
  assert.equal(run.indexOf(/^start app/), -1, 'the app waits for the identity');
  const lines = proxy.logs().split('\n').filter((l) => /ca_unreachable|cannot reach|unreachable/i.test(l));
  assert.ok(lines.length >= 1 && lines.length <= 3, `one line per problem, not a flood:\n${proxy.logs()}`);
  await h.restartControlPlane();
  await run.waitReady(60_000);
  assert.equal(proxy.restarts, 0, 'became ready without a restart');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP_IMAGE, labelNamespace, startHarness } from './harness.js';
import { podFromTemplate } from './workloads.js';

function job(annotations: Record<string, string> = {}): Record<string, any> {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once', namespace: 'shop' },
    spec: {
      template: {
        metadata: { annotations },
        spec: { restartPolicy: 'Never', serviceAccountName: 'batch', containers: [{ name: 'task', image: APP_IMAGE, args: ['--name', 'task', '--exit-after', '300', '--exit-code', '0'] }] },
      },
    },
  };
}

test('a Job\'s pod completes and ends: the native sidecar is stopped once the task exits', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', podFromTemplate(job()));
  assert.ok('pod' in created, JSON.stringify(created));
  const run = await h.run(created.pod);
  assert.equal(await run.completion(60_000), 'Succeeded', run.timeline());
  assert.ok(run.indexOf(/^exit task 0/) < run.indexOf(/^exit meshid-proxy/), `the proxy ends after the task:\n${run.timeline()}`);
  assert.ok(run.indexOf(/^startup meshid-proxy passed/) < run.indexOf(/^start task/), 'the task started once the identity was ready');
});

test('holdApplicationUntilProxyStarts without native sidecars: the app starts only after the proxy is ready', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', podFromTemplate(job({ 'sidecar.meshid.io/nativeSidecar': 'false', 'sidecar.meshid.io/holdApplicationUntilProxyStarts': 'true' })));
  assert.ok('pod' in created, JSON.stringify(created));
  const pod = created.pod;
  assert.deepEqual(pod.spec.initContainers.map((c: { name: string }) => c.name), ['meshid-init']);
  assert.equal(pod.spec.containers[0].name, 'meshid-proxy', 'the proxy is the first app container');
  const run = await h.run(pod);
  await run.waitFor(() => run.indexOf(/^exit task/) >= 0, 60_000, 'through its task');
  const hook = run.indexOf(/^postStart meshid-proxy 0/);
  assert.ok(hook >= 0 && hook < run.indexOf(/^start task/), `the task started after the proxy's postStart wait:\n${run.timeline()}`);
  assert.equal((await fetch(`http://${run.ip}:15021/healthz/ready`)).status, 200, 'the proxy holds its identity');
});

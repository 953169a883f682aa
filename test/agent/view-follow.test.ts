import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { startAgent } from '../../src/agent/agent.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { VIEW_FILE } from '../../src/common/pod-contract.js';
import type { WorkloadView } from '../../src/mesh/view.js';
import { startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { podObject } from '../helpers/mesh-objects.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger, tempDir } from './helpers.js';

function viewFile(path: string): WorkloadView | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

it('the agent follows its pod\'s view, keeps the last good one through a control plane outage, and resumes with a full view of the new epoch', async (t) => {
  const cluster = await startFakeCluster(t);
  const { fake } = cluster;
  fake.put('pods', podObject('shop', 'web-1', { sa: 'web', ips: ['10.0.0.1'] }) as never);
  fake.put('pods', podObject('shop', 'cart-1', { sa: 'cart', ips: ['10.0.0.2'] }) as never);
  const caPort = await freePort();
  let cp = await startReplica(t, fake, { identity: 'meshid-0', caPort, listenAddress: '127.0.0.1' });
  const dir = await tempDir();
  const caRootFile = join(dir, 'root-cert.pem');
  await writeFile(caRootFile, cp.authority.current().roots.join(''));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, await cluster.token({ namespace: 'shop', serviceAccount: 'web', pod: { name: 'web-1', uid: 'uid-shop-web-1' } }));
  const config: AgentConfig = {
    caUrl: `https://127.0.0.1:${caPort}`, caRootFile, tokenFile, namespace: 'shop', serviceAccount: 'web', trustDomain: 'cluster.local',
    keyAlgorithm: 'ec-p256', sdsSocket: join(dir, 'sds.sock'), workloadSocket: join(dir, 'workload.sock'), statusPort: 0, healthPort: 0, listenHost: '127.0.0.1',
    envoyConfigPath: join(dir, 'envoy.json'), bundlePollMs: 3_600_000, podName: 'web-1',
  };
  const log = captureLogger();
  const agent = await startAgent(config, { logger: log.logger });
  let stopped = false;
  // Before the control plane and the API server, whose after-hooks ran first and made the agent's retries slow.
  const stop = async () => { if (!stopped) { stopped = true; await agent.stop(); } };
  t.after(stop);
  await agent.ready();
  const view = agent.view!;
  await waitFor(() => view.current() !== null, { timeoutMs: 5000, what: 'the first view' });
  const seen: WorkloadView[] = [];
  view.onChange((v) => seen.push(v));
  assert.deepEqual(view.current()!.destinations.map((d) => d.address), ['10.0.0.1', '10.0.0.2']);
  assert.equal(view.current()!.pod.name, 'web-1');

  fake.put('pods', podObject('shop', 'cart-2', { sa: 'cart', ips: ['10.0.0.3'] }) as never);
  await waitFor(() => view.current()!.destinations.length === 3, { timeoutMs: 2000, what: 'the delta within 2 s' });
  assert.equal(seen.length, 1, 'one change, one notification');
  await waitFor(() => viewFile(join(dir, VIEW_FILE))?.destinations.length === 3, { timeoutMs: 3000, what: `${VIEW_FILE} written` });

  const before = view.current()!;
  await cp.close();
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(view.current(), before, 'the last good view stays through the outage');
  const outage = log.lines().filter((l) => l.level === 40 && String(l.msg).includes('cannot get the mesh view'));
  assert.equal(outage.length, 1, 'one warning per outage');

  fake.put('pods', podObject('shop', 'cart-3', { sa: 'cart', ips: ['10.0.0.4'] }) as never);
  cp = await startReplica(t, fake, { identity: 'meshid-0', caPort, listenAddress: '127.0.0.1' });
  await waitFor(() => view.current()!.destinations.length === 4, { timeoutMs: 15_000, what: 'the view after the control plane is back' });
  assert.notEqual(view.current()!.version.split(':')[0], before.version.split(':')[0], 'a new epoch: a full view');
  await waitFor(() => log.lines().some((l) => String(l.msg).includes('mesh view from the control plane restored')), { what: 'the end of the outage logged' });
  await stop();
});

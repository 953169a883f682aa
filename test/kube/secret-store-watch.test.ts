import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKubeClients } from '../../src/kube/client.js';
import { SecretCaStore } from '../../src/kube/secret-store.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/wait.js';

const NS = 'meshid-system';

test("a read by another user of the same store (the rotation driver's every tick) does not swallow a foreign change the watch must report", async (t) => {
  const fake = await FakeKube.start();
  t.after(() => fake.close());
  const clients = createKubeClients(fake.kubeConfig());
  const store = (retry = 20) => new SecretCaStore({ core: clients.core, watch: clients.watch, namespace: NS, watchRetryMs: retry });
  const [mine, other] = [store(), store()];
  let current = await mine.write({ round: '0' }, null);
  const seen: string[] = [];
  const stop = mine.watch((s) => seen.push(s.files.round!));
  t.after(stop);
  for (let round = 1; round <= 20; round++) {
    current = await other.write({ round: String(round) }, current.version);
    // What the driver does on the same instance: it reads the new set before the watch's event is handled.
    assert.equal((await mine.read())!.files.round, String(round));
    await waitFor(() => seen.includes(String(round)), { what: `round ${round} to be reported`, timeoutMs: 2000 });
  }
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => String(i + 1)), 'each change reported once, in order, none of its own');
});

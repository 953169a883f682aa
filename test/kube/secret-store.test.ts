import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CaFiles, type CaStore, type StoredCaFiles, StoreConflictError } from '../../src/ca/store.js';
import { isMeshidError } from '../../src/common/errors.js';
import { createKubeClients } from '../../src/kube/client.js';
import { SecretCaStore } from '../../src/kube/secret-store.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/wait.js';

const NS = 'meshid-system';

function store(fake: FakeKube): SecretCaStore {
  const clients = createKubeClients(fake.kubeConfig());
  return new SecretCaStore({ core: clients.core, watch: clients.watch, namespace: NS, watchRetryMs: 20 });
}

/** What a replica does at startup: load the CA, or create one, and on losing the race load the winner's. */
async function loadOrCreate(s: CaStore, generate: () => CaFiles): Promise<StoredCaFiles> {
  for (;;) {
    const existing = await s.read();
    if (existing) return existing;
    try {
      return await s.write(generate(), null);
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
    }
  }
}

function nextChange(s: CaStore): { changed: Promise<StoredCaFiles>; stop: () => void } {
  let stop = (): void => {};
  const changed = new Promise<StoredCaFiles>((resolve) => {
    stop = s.watch(resolve);
  });
  return { changed, stop };
}

/** A store's watch is up once both of its streams (its Secret and the plug-in one) are open: changes after that are seen. */
async function watchUp(fake: FakeKube): Promise<void> {
  await waitFor(() => fake.openWatches('secrets') >= 2, { what: 'the store watch to open' });
}

/** The previous case's watch streams are gone, so counting open streams counts this case's. */
async function noWatches(fake: FakeKube): Promise<void> {
  await waitFor(() => fake.openWatches('secrets') === 0, { what: 'earlier watches to close' });
}

describe('SecretCaStore', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await FakeKube.start();
  });
  after(() => fake.close());

  it('reads null before anything is stored', async () => {
    assert.equal(await store(fake).read(), null);
  });

  it('two replicas racing to create the CA end with exactly one, the same for both', async () => {
    const [a, b] = [store(fake), store(fake)];
    let generated = 0;
    const gen = (who: string) => () => ({ 'ca-cert.pem': `cert-${who}`, 'ca-key.pem': `key-${who}`, n: String(++generated) });
    const creates = () => fake.calls.filter((c) => c.verb === 'create' && c.resource === 'secrets').length;
    const before = creates();
    const [ra, rb] = await Promise.all([loadOrCreate(a, gen('a')), loadOrCreate(b, gen('b'))]);
    assert.deepEqual(ra, rb);
    assert.equal(creates() - before, 2, 'both replicas tried to create');
    assert.equal(fake.list('secrets', NS).length, 1);
    const secret = fake.get('secrets', NS, 'meshid-ca')!;
    assert.equal(Buffer.from((secret.data as Record<string, string>)['ca-cert.pem']!, 'base64').toString(), ra.files['ca-cert.pem']);
    assert.equal((secret.metadata.labels as Record<string, string>)['app.kubernetes.io/managed-by'], 'meshid');
  });

  it('rejects a write based on a stale version, and a create over an existing CA', async () => {
    const [a, b] = [store(fake), store(fake)];
    const seen = (await a.read())!;
    await b.write({ ...seen.files, extra: 'b' }, seen.version);
    await assert.rejects(a.write({ ...seen.files, extra: 'a' }, seen.version), StoreConflictError);
    await assert.rejects(a.write({ x: 'y' }, null), StoreConflictError);
    assert.equal((await a.read())!.files.extra, 'b');
  });

  it('a replica reloads when another replica changes the Secret, without restart', async () => {
    const [a, b] = [store(fake), store(fake)];
    const current = (await a.read())!;
    await noWatches(fake);
    const watch = nextChange(a);
    try {
      await watchUp(fake);
      const written = await b.write({ ...current.files, 'root-cert.pem': 'new-bundle' }, (await b.read())!.version);
      const seen = await watch.changed;
      assert.equal(seen.version, written.version);
      assert.equal(seen.files['root-cert.pem'], 'new-bundle');
    } finally {
      watch.stop();
    }
  });

  it('keeps reloading after the watch stream is closed by the server', async () => {
    const [a, b] = [store(fake), store(fake)];
    await a.read();
    const versions: string[] = [];
    await noWatches(fake);
    const stop = a.watch((s) => versions.push(s.files.round!));
    try {
      await watchUp(fake);
      fake.dropWatches();
      await watchUp(fake);
      const cur = (await b.read())!;
      await b.write({ ...cur.files, round: 'after-drop' }, cur.version);
      await waitFor(() => versions.includes('after-drop'));
    } finally {
      stop();
    }
  });

  it('does not report its own writes as changes', async () => {
    const a = store(fake);
    const cur = (await a.read())!;
    const changes: StoredCaFiles[] = [];
    await noWatches(fake);
    const stop = a.watch((s) => changes.push(s));
    try {
      await watchUp(fake);
      const own = await a.write({ ...cur.files, own: 'write' }, cur.version);
      // Another writer's change after it is reported; had the own write been reported, it would come first.
      await store(fake).write({ ...own.files, other: 'write' }, own.version);
      await waitFor(() => changes.length > 0);
      assert.deepEqual(changes.map((c) => c.files.other), ['write']);
    } finally {
      stop();
    }
  });

  it('prefers an operator-supplied cacerts Secret, reloads onto it, and never writes it', async () => {
    const a = store(fake);
    const before = (await a.read())!;
    await noWatches(fake);
    const watch = nextChange(a);
    try {
      await watchUp(fake);
      fake.put('secrets', { metadata: { name: 'cacerts', namespace: NS }, data: { 'ca-cert.pem': Buffer.from('plugin-cert').toString('base64') } });
      const seen = await watch.changed;
      assert.equal(seen.files['ca-cert.pem'], 'plugin-cert');
      assert.notEqual(seen.version, before.version);
      await assert.rejects(a.write({ 'ca-cert.pem': 'mine' }, seen.version), (err) => isMeshidError(err) && err.code === 'plugin_ca_read_only' && err.message.includes('cacerts'));
      assert.equal((await a.read())!.files['ca-cert.pem'], 'plugin-cert');
    } finally {
      watch.stop();
      fake.remove('secrets', NS, 'cacerts');
    }
  });

  it('names the Secret and the missing permission when the API refuses, without leaking data', async () => {
    fake.forbid = (call) => call.resource === 'secrets';
    try {
      await assert.rejects(store(fake).read(), (err) => isMeshidError(err) && err.code === 'ca_store_unavailable' && err.status === 503
        && err.message.includes(NS) && err.message.includes('Role') && !err.message.includes('key-'));
    } finally {
      fake.forbid = () => false;
    }
  });
});

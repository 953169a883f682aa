import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { FileCaStore } from '../../src/ca/file-store.js';
import { issueWorkloadCertificate } from '../../src/ca/issue.js';
import { createCaFiles } from '../../src/ca/material.js';
import { startRotationDriver } from '../../src/ca/rotation/driver.js';
import { rotateRoot } from '../../src/ca/rotation/operator.js';
import { nextStep, requestRotation, type RotationConfig } from '../../src/ca/rotation/plan.js';
import { NEXT_FILES, parseRotationState, ROTATION_FILE, RotationStateError } from '../../src/ca/rotation/state.js';
import { formatRotationStatus, rotationStatus } from '../../src/ca/status.js';
import { StoreConflictError, type CaFiles, type CaStore } from '../../src/ca/store.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { buildCsrPem } from '../../src/pki/csr-build.js';
import { generateKeyPair } from '../../src/pki/keys.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

async function setup(t: TestContext, extra: CaFiles = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'meshid-engine-'));
  // Hooks run in the order they were added; the authority's store poll and the drivers must stop before the folder goes.
  const stops: Array<() => unknown> = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop();
    // A store poll already under way when its timer stopped may still take the lock file while the folder goes.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });
  const clock = new ManualClock(T0);
  const store = new FileCaStore(dir);
  const initial = await store.write({ ...createCaFiles({ trustDomain: 'cluster.local', now: T0, random: randomBytes }), ...extra }, null);
  const authority = await CertificateAuthority.open({ store, trustDomain: 'cluster.local', clock, random: randomBytes, logger: silentLogger });
  stops.push(() => authority.close());
  const registry = new Registry();
  const driver = (s: CaStore = store, isLeader?: () => boolean) => {
    const d = startRotationDriver({ store: s, authority, clock, random: randomBytes, trustDomain: 'cluster.local', maxWorkloadTtlMs: 60 * MIN,
      bundlePropagationDelayMs: 5 * MIN, retireMarginMs: MIN, logger: silentLogger, registry, tickMs: 3_600_000, isLeader });
    stops.push(() => d.stop());
    return d;
  };
  return { store, clock, authority, registry, driver, initial };
}

function canIssue(authority: CertificateAuthority, now: number): void {
  const keys = generateKeyPair();
  const out = issueWorkloadCertificate({ csr: buildCsrPem(keys.privateKey, keys.publicKey, 'spiffe://cluster.local/ns/a/sa/b') }, { namespace: 'a', serviceAccount: 'b', expiresAt: now + MIN },
    { ca: authority.current(), trustDomain: 'cluster.local', ttl: { defaultMs: 10 * MIN, maxMs: 60 * MIN }, now, random: randomBytes });
  assert.equal(out.certChain.length, 2);
}

describe('rotation driver', () => {
  it('steps through prepare, activate, retire, idle; counts and shows each phase', async (t) => {
    const { store, clock, authority, registry, driver, initial } = await setup(t);
    const d = driver();
    const oldSigner = authority.current().signingCert.fingerprint256;
    await store.write(requestRotation(initial.files, clock.now(), randomBytes).files, initial.version);
    await d.tick();
    let files = (await store.read())!.files;
    assert.equal(parseRotationState(files).phase, 'prepare');
    assert.equal(authority.current().rootCerts.length, 2, 'the new root is trusted at once');
    assert.equal(authority.current().signingCert.fingerprint256, oldSigner, 'the old CA still signs');
    assert.match(formatRotationStatus(rotationStatus(files), clock.now()), /^rotation: prepare \(.+\): the bundle propagation delay, then the new CA signs, 5m left$/);

    clock.advance(5 * MIN - 1);
    await d.tick();
    assert.equal(parseRotationState((await store.read())!.files).phase, 'prepare', 'not a millisecond early');
    clock.advance(1);
    await d.tick();
    files = (await store.read())!.files;
    assert.equal(parseRotationState(files).phase, 'activate');
    assert.notEqual(authority.current().signingCert.fingerprint256, oldSigner, 'this replica signs with the new CA at once');
    assert.equal(files[NEXT_FILES.signingKey], undefined);
    // No record of the old CA's leaves (its files were written without one): the longest TTL it may have given.
    assert.match(formatRotationStatus(rotationStatus(files), clock.now()), /1h1m left; retire expected at 2026-01-01T01:06:00.000Z$/);
    canIssue(authority, clock.now());

    clock.advance(61 * MIN);
    await d.tick();
    files = (await store.read())!.files;
    assert.equal(parseRotationState(files).phase, 'idle', 'local mode: retire publishes at once, so the same tick finishes');
    assert.equal(authority.current().rootCerts.length, 1);
    const metrics = await registry.getSingleMetricAsString('meshid_ca_rotation_transitions_total');
    for (const step of ['prepare', 'published', 'activate', 'retire', 'idle']) assert.match(metrics, new RegExp(`phase="${step}"} 1`));
    assert.match(await registry.getSingleMetricAsString('meshid_ca_rotation_phase'), /phase="idle"} 1/);
  });

  it('does nothing unless leader, and re-decides after losing a write race', async (t) => {
    const { store, clock, driver, initial } = await setup(t);
    await store.write(requestRotation(initial.files, clock.now(), randomBytes).files, initial.version);
    let leader = false;
    let conflicts = 1;
    const racing: CaStore = { ...store, read: () => store.read(), describe: () => store.describe(), watch: () => () => {},
      write: async (f, v) => { if (conflicts-- > 0) throw new StoreConflictError('test'); return store.write(f, v); } };
    const d = driver(racing, () => leader);
    await d.tick();
    assert.equal(parseRotationState((await store.read())!.files).phase, 'requested');
    leader = true;
    await d.tick();
    assert.equal(parseRotationState((await store.read())!.files).phase, 'prepare');
  });

  it('starts a scheduled rotation once the root has lived the configured fraction of its life', () => {
    const files = createCaFiles({ trustDomain: 'cluster.local', now: T0, random: randomBytes, rootTtlMs: 100 * MIN });
    const config: RotationConfig = { trustDomain: 'cluster.local', random: randomBytes, maxWorkloadTtlMs: MIN, bundlePropagationDelayMs: MIN, retireMarginMs: 0, rotateAtFraction: 0.8 };
    const before = nextStep({ phase: 'idle' }, files, T0 + 70 * MIN, config, { published: true });
    assert.equal(before.kind, 'idle');
    const due = nextStep({ phase: 'idle' }, files, T0 + 81 * MIN, config, { published: true });
    assert.equal(due.kind === 'write' && due.state.reason, 'scheduled');
    assert.equal(nextStep({ phase: 'idle' }, files, T0 + 99 * MIN, { ...config, rotateAtFraction: null }, { published: true }).kind, 'idle');
  });
});

describe('hostile rotation.json', () => {
  const prepareWithoutNext = JSON.stringify({ phase: 'prepare', id: 'x', reason: 'operator', requestedAt: '2026-01-01T00:00:00Z', preparedAt: '2026-01-01T00:00:00Z', oldRoots: ['AA'], newRoot: 'BB' });
  const cases: Array<[string, string, RegExp]> = [
    ['garbage', '{"phase": "prep', /rotation\.json is not valid JSON/],
    ['an array', '[]', /must hold a JSON object/],
    ['an unknown phase', '{"phase":"explode"}', /unknown phase "explode"/],
    ['a phase without its fields', '{"phase":"activate","id":"x"}', /lacks reason, requestedAt/],
    ['a bad time', '{"phase":"requested","id":"x","reason":"operator","requestedAt":"yesterday"}', /requestedAt must be an RFC 3339 time/],
    ['prepare without the staged CA', prepareWithoutNext, new RegExp(`${NEXT_FILES.signingCert}, .* are missing`)],
  ];
  for (const [what, text, message] of cases) {
    it(`${what}: a clear error, nothing written, the active CA keeps signing`, async (t) => {
      const { store, clock, authority, registry, driver, initial } = await setup(t, { [ROTATION_FILE]: text });
      await assert.rejects(driver().tick(), (err: Error) => err instanceof RotationStateError && message.test(err.message) && /keeps signing/.test(err.message));
      assert.deepEqual((await store.read())!.files, initial.files, 'nothing lost or changed');
      canIssue(authority, clock.now());
      assert.equal(rotationStatus(initial.files).phase, 'error');
      assert.match(await registry.getSingleMetricAsString('meshid_ca_rotation_phase'), /phase="error"} 1/);
      await assert.rejects(rotateRoot({ store, wait: false, now: () => clock.now(), random: randomBytes, print: () => {} }), message);
    });
  }
});

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FileCaStore } from '../../src/ca/file-store.js';
import { PLUGIN_FILES } from '../../src/ca/store.js';
import { assertRotatedAndIdle, runFleet, SIM, type FleetReport } from './fleet.js';
import { SimStore, type CrashMode } from './sim-store.js';

/** Smaller than the main runs (which use 1,000) to keep the suite fast; the same checks at every instant. */
const WORKLOADS = 300;
/** prepare, published, activate, retire, idle: one store write each. */
const STEPS = 5;

async function run(t: TestContext, crash: CrashMode | null, driver?: { maxWorkloadTtlMs?: number; bundlePropagationDelayMs?: number }, jwtMaxTtlMs?: number): Promise<FleetReport> {
  const dir = await mkdtemp(join(tmpdir(), 'meshid-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return runFleet({
    store: new SimStore(new FileCaStore(dir), crash), workloads: WORKLOADS, seed: 7, verifyOneIn: 10, driver, jwtMaxTtlMs,
    publishedBundle: (_ns, files) => files[PLUGIN_FILES.roots],
  });
}

/** The stored set and rotation.json fields of a clean run, whatever crashed on the way. */
const FINAL_FILES = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'jwt-signing-key.pem', 'root-cert.pem', 'rotation.json'];
const FINAL_STATE = ['activatedAt', 'completedAt', 'id', 'newRoot', 'oldRoots', 'phase', 'preparedAt', 'publishedAt', 'activateAt', 'reason', 'requestedAt', 'retireAt', 'retiredAt'].sort();

function assertSameEnd(r: FleetReport): void {
  assertRotatedAndIdle(r);
  assert.deepEqual(Object.keys(r.final.files).sort(), FINAL_FILES);
  assert.deepEqual(Object.keys(r.final.state).sort(), FINAL_STATE);
}

describe('crash at every step of the rotation', () => {
  it('a new driver after every committed step (crashed before it knew) resumes and ends in the same state', async (t) => {
    const crashed = await run(t, 'after-every');
    assert.equal(crashed.crashes, STEPS, 'one crash after each step, each picked up by a fresh driver');
    assert.equal(crashed.writes, STEPS, 'no step was done twice');
    assertSameEnd(crashed);
  });

  it('a crash before each step reaches the store: the next driver decides afresh and ends in the same state', async (t) => {
    const r = await run(t, 'before-every-other');
    assert.equal(r.crashes, STEPS);
    assert.equal(r.writes, 2 * STEPS);
    assertSameEnd(r);
  });
});

describe('the fleet checker is not vacuous', () => {
  it('catches a retire that comes before the old leaves expire (max TTL understated)', async (t) => {
    await assert.rejects(run(t, null, { maxWorkloadTtlMs: SIM.ttlMs / 2 }), /cannot verify leaves of signing CA/);
  });

  it('catches an activation before agents have the new root, or verifiers the new JWT key (no propagation delay)', async (t) => {
    await assert.rejects(run(t, null, { bundlePropagationDelayMs: 0 }), /cannot verify leaves of signing CA|JWT key \S+ signs before it was published/);
  });

  it('catches a JWT key retired while JWT-SVIDs it signed are unexpired (JWTs outliving the max workload TTL)', async (t) => {
    await assert.rejects(run(t, null, { maxWorkloadTtlMs: SIM.ttlMs / 2 }, SIM.maxTtlMs), /unexpired JWT-SVID signed by \S+ no longer verifies/);
  });
});

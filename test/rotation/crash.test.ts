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

async function run(t: TestContext, crash: CrashMode | null, driver?: { maxWorkloadTtlMs?: number; bundlePropagationDelayMs?: number }, fleet: { maxTtlShare?: number; recordLeaves?: boolean; jwtMaxTtlMs?: number } = {}): Promise<FleetReport> {
  const dir = await mkdtemp(join(tmpdir(), 'meshid-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return runFleet({
    store: new SimStore(new FileCaStore(dir), crash), workloads: WORKLOADS, seed: 7, verifyOneIn: 10, driver, ...fleet,
    publishedBundle: (_ns, files) => files[PLUGIN_FILES.roots],
  });
}

/** The stored set and rotation.json fields of a clean run, whatever crashed on the way. */
const FINAL_FILES = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'jwt-signing-key.pem', 'leaf-horizon.json', 'root-cert.pem', 'rotation.json'];
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

describe('retire waits for the old CA\'s last recorded leaf, not for the longest TTL it could have given', () => {
  const MIN = 60_000;
  it('leaves of 1h under a 2h maximum: retired 1h + at most 1m (recorded ahead) + the margin after activation, a crash at every step', async (t) => {
    for (const crash of [null, 'after-every', 'before-every-other'] as const) {
      const r = await run(t, crash, undefined, { maxTtlShare: 0 });
      assertSameEnd(r);
      const retireAfter = r.final.state.retiredAt! - r.timeline.activatedAt!;
      assert.ok(retireAfter >= SIM.ttlMs + SIM.retireMarginMs && retireAfter <= SIM.ttlMs + MIN + SIM.retireMarginMs + SIM.stepMs, `${crash}: retired ${retireAfter / MIN} min after activation`);
      t.diagnostic(`${crash ?? 'no crash'}: requested → complete in ${(r.timeline.completedAt! - r.timeline.requestedAt) / MIN} min, retired ${retireAfter / MIN} min after activation (max TTL ${SIM.maxTtlMs / MIN} min)`);
    }
  });

  it('a leaf asking for the maximum TTL holds the retire back until it expires', async (t) => {
    const r = await run(t, null, undefined, { maxTtlShare: 0.1 });
    assertSameEnd(r);
    // Held back past the 1h leaves by the 2h ones renewed shortly before activation; never past the old rule.
    const retireAfter = r.final.state.retiredAt! - r.timeline.activatedAt!;
    assert.ok(retireAfter > SIM.ttlMs + MIN + SIM.retireMarginMs + SIM.stepMs && retireAfter <= SIM.maxTtlMs + MIN + SIM.retireMarginMs + SIM.stepMs, `retired ${retireAfter / MIN} min after activation`);
    t.diagnostic(`with 10% of leaves at the 2h maximum: retired ${retireAfter / MIN} min after activation`);
  });
});

describe('the fleet checker is not vacuous', () => {
  it('catches a retire that comes before the old leaves expire (leaves not recorded and max TTL understated)', async (t) => {
    await assert.rejects(run(t, null, { maxWorkloadTtlMs: SIM.ttlMs / 2 }, { recordLeaves: false }), /cannot verify leaves of signing CA|unexpired JWT-SVID signed by \S+ no longer verifies/);
  });

  it('catches an activation before agents have the new root, or verifiers the new JWT key (no propagation delay)', async (t) => {
    await assert.rejects(run(t, null, { bundlePropagationDelayMs: 0 }), /cannot verify leaves of signing CA|JWT key \S+ signs before it was published/);
  });

  it('catches a JWT key retired while JWT-SVIDs it signed are unexpired (JWTs outliving the max workload TTL)', async (t) => {
    await assert.rejects(run(t, null, { maxWorkloadTtlMs: SIM.ttlMs / 2 }, { jwtMaxTtlMs: SIM.maxTtlMs, recordLeaves: false }), /unexpired JWT-SVID signed by \S+ no longer verifies/);
  });
});

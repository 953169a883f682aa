import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileCaStore } from '../../src/ca/file-store.js';
import { PLUGIN_FILES } from '../../src/ca/store.js';
import { assertRotatedAndIdle, runFleet } from './fleet.js';
import { SimStore } from './sim-store.js';

const WORKLOADS = 1000;

describe('root rotation under a renewing fleet, local mode', () => {
  it(`local mode (FileCaStore): ${WORKLOADS} workloads stay mutually verifiable throughout`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'meshid-rot-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const started = Date.now();
    const r = await runFleet({
      store: new SimStore(new FileCaStore(dir)), workloads: WORKLOADS, seed: 1,
      publishedBundle: (_ns, files) => files[PLUGIN_FILES.roots], // root-cert.pem is the bundle agents read
    });
    assertRotatedAndIdle(r);
    assert.equal(r.writes, 5, 'prepare, published, activate, retire, idle: one write each');
    t.diagnostic(`local: ${r.steps} instants, ${r.issued} issued, ${r.classChecks} class checks standing for ${r.pairsCovered.toExponential(2)} pairs, max ${r.maxClasses} classes, ${Date.now() - started} ms`);
  });
});

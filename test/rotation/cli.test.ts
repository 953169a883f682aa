import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { FileCaStore } from '../../src/ca/file-store.js';
import { createCaFiles } from '../../src/ca/material.js';
import { startRotationDriver } from '../../src/ca/rotation/driver.js';
import { systemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { meshid } from '../helpers/cli.js';

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshid-cli-'));
  await new FileCaStore(dir).write(createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes }), null);
  return dir;
}

describe('meshid ca rotate-root and ca status (local mode, real CLI)', () => {
  it('records a request with no control plane, reports it in progress, and --wait follows the driver to the end', async (t) => {
    const dir = await dataDir();
    // Hooks run in the order they were added: the driver polling this folder stops before it is removed.
    let stopDriver = () => {};
    t.after(async () => {
      stopDriver();
      await rm(dir, { recursive: true, force: true });
    });

    let r = await meshid(['ca', 'status', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ROLE +SUBJECT/);
    assert.equal(r.stdout.match(/^root /gm)?.length, 1);
    assert.match(r.stdout, /rotation: idle: no rotation has run/);

    r = await meshid(['ca', 'rotate-root', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /root rotation \S+ requested/);
    assert.match(r.stdout, /recorded and will be driven by the control plane/);
    assert.match((await meshid(['ca', 'status', '--data-dir', dir])).stdout, /rotation: requested .*: the control plane \(meshid serve\) to pick the request up/);
    r = await meshid(['ca', 'rotate-root', '--data-dir', dir]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /already in progress; not starting another/);

    // What `meshid serve --local` runs on the same folder; it sees the request through the store watch.
    const driver = startRotationDriver({
      store: new FileCaStore(dir, 100), clock: systemClock, random: randomBytes, trustDomain: 'cluster.local', maxWorkloadTtlMs: 1500,
      bundlePropagationDelayMs: 1000, retireMarginMs: 0, logger: silentLogger, registry: new Registry(), tickMs: 200,
    });
    stopDriver = () => driver.stop();
    r = await meshid(['ca', 'rotate-root', '--wait', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotation: prepare .*left/);
    assert.match(r.stdout, /rotation: activate .*leaves signed by the old CA to expire.*left; retire expected at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n/);
    assert.match(r.stdout, /rotation: retire .*the old root has left the trust bundle/);
    assert.match(r.stdout, /complete: the new root is the only trusted root and the new CA signs/);

    // A fresh rotation with a control plane running: picked up at once; a second command follows it to the end.
    r = await meshid(['ca', 'rotate-root', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the control plane has started it/);
    r = await meshid(['ca', 'rotate-root', '--wait', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already in progress[\s\S]*complete/);

    r = await meshid(['ca', 'status', '--data-dir', dir]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.match(/^root /gm)?.length, 1);
    assert.match(r.stdout, /rotation: idle \(.+\): last rotation completed/);
  });

  it('fails with a one-line reason on a missing CA and on a broken rotation.json', async (t) => {
    const empty = await mkdtemp(join(tmpdir(), 'meshid-cli-'));
    const dir = await dataDir();
    t.after(() => Promise.all([rm(empty, { recursive: true, force: true }), rm(dir, { recursive: true, force: true })]));
    let r = await meshid(['ca', 'rotate-root', '--data-dir', empty]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^meshid ca: no CA material in .*\n$/);
    await writeFile(join(dir, 'rotation.json'), '{not json');
    r = await meshid(['ca', 'rotate-root', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^meshid ca: rotation\.json is not valid JSON; the active CA is unaffected and keeps signing\. Fix or remove rotation\.json to continue\n$/);
    r = await meshid(['ca', 'status', '--data-dir', dir]);
    assert.equal(r.code, 0, 'status still shows the CA');
    assert.match(r.stdout, /rotation: error: rotation\.json is not valid JSON/);
  });
});

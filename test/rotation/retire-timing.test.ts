import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { FileCaStore } from '../../src/ca/file-store.js';
import { fingerprintOf, HORIZON_FILE, leavesExpireBy, parseHorizon, withFreshCa, withIssued } from '../../src/ca/leaf-horizon.js';
import { createCaFiles } from '../../src/ca/material.js';
import { nextStep, requestRotation, type RotationConfig } from '../../src/ca/rotation/plan.js';
import { parseRotationState } from '../../src/ca/rotation/state.js';
import { formatRotationStatus, rotationStatus } from '../../src/ca/status.js';
import { PLUGIN_FILES, type CaFiles } from '../../src/ca/store.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { SERVE_DEFAULTS } from '../../src/controlplane/config.js';
import { parseDuration } from '../../src/common/duration.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 1);
const signing = (files: CaFiles) => fingerprintOf(files[PLUGIN_FILES.signingCert]!);

describe('when the old root is retired', () => {
  it('with the defaults (24h leaves, 7d maximum, 5m propagation and margin): about 24h 6m after activation, 24h 11m after the request', () => {
    const config: RotationConfig = {
      trustDomain: 'cluster.local', random: randomBytes, rotateAtFraction: null,
      maxWorkloadTtlMs: parseDuration(SERVE_DEFAULTS['max-workload-cert-ttl']), bundlePropagationDelayMs: parseDuration(SERVE_DEFAULTS['bundle-propagation-delay']),
      retireMarginMs: 5 * MIN, // what serve derives for a 7d maximum: min(5m, max(10s, max/10))
    };
    const ttl = parseDuration(SERVE_DEFAULTS['workload-cert-ttl']);
    let files: CaFiles = createCaFiles({ trustDomain: 'cluster.local', now: T0, random: randomBytes });
    files = withFreshCa(files, signing(files), T0);
    let now = T0 + HOUR;
    const step = (published = true) => {
      const d = nextStep(parseRotationState(files), files, now, config, { published });
      if (d.kind === 'write') files = d.files;
      return d;
    };
    // Leaves issued every minute up to the instant of activation, each recorded as the CA API does (1m ahead).
    const issueUntil = (end: number) => {
      for (; now <= end; now += MIN) files = withIssued(files, signing(files), now + ttl + MIN, now) ?? files;
      now = end;
    };
    const requestedAt = now;
    files = requestRotation(files, now, randomBytes).files;
    assert.equal(step().kind, 'write'); // prepare
    assert.equal(step().kind, 'write'); // published
    const activateAt = parseRotationState(files).activateAt!;
    issueUntil(activateAt);
    const activated = step();
    assert.ok(activated.kind === 'write' && activated.step === 'activate');
    const state = parseRotationState(files);
    assert.equal(state.retireAt! - state.activatedAt!, ttl + MIN + 5 * MIN, 'the last old-CA leaf (24h, recorded 1m ahead) + 5m margin');
    assert.equal(state.retireAt! - requestedAt, 24 * HOUR + 11 * MIN);
    assert.match(formatRotationStatus(rotationStatus(files), now), /, 1d6m left; retire expected at 2026-01-02T01:11:00\.000Z$/);

    now = state.retireAt! - 1;
    assert.equal(step().kind, 'wait');
    now = state.retireAt!;
    const retired = step();
    assert.ok(retired.kind === 'write' && retired.step === 'retire');
  });

  it('a leaf the old CA signs after activation (a replica slow to reload) pushes the retire back', () => {
    const config = { maxWorkloadTtlMs: 7 * 24 * HOUR, retireMarginMs: 5 * MIN };
    let files: CaFiles = createCaFiles({ trustDomain: 'cluster.local', now: T0, random: randomBytes });
    const old = signing(files);
    files = withIssued(withFreshCa(files, old, T0), old, T0 + 24 * HOUR, T0)!;
    assert.equal(leavesExpireBy(files, old, config.maxWorkloadTtlMs), T0 + 24 * HOUR);
    files = withIssued(files, old, T0 + 25 * HOUR, T0 + HOUR)!;
    assert.equal(leavesExpireBy(files, old, config.maxWorkloadTtlMs), T0 + 25 * HOUR);
    assert.equal(withIssued(files, old, T0 + 2 * HOUR, T0 + HOUR), null, 'already covered: nothing to write');
  });

  it('a CA whose record started after it signed (an upgrade, an operator\'s CA) is bounded by the maximum TTL from then; no record, by none', () => {
    const files = withIssued({}, 'AA', T0 + 24 * HOUR, T0)!;
    assert.equal(leavesExpireBy(files, 'AA', 7 * 24 * HOUR), T0 + 7 * 24 * HOUR);
    assert.equal(leavesExpireBy(files, 'BB', 7 * 24 * HOUR), null);
    assert.deepEqual(parseHorizon({ [HORIZON_FILE]: '{broken' }), {}, 'an unreadable record vouches for nothing');
  });

  it('the CA API\'s recorder shares one store write among concurrent leaves and writes again only past what it covered', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'meshid-horizon-'));
    const store = new FileCaStore(dir);
    const clock = new ManualClock(T0);
    const authority = await CertificateAuthority.open({ store, trustDomain: 'cluster.local', clock, random: randomBytes, logger: silentLogger });
    t.after(async () => {
      authority.close();
      await rm(dir, { recursive: true, force: true });
    });
    const ca = authority.current();
    const fp = ca.signingCert.fingerprint256;
    const fresh = parseHorizon((await store.read())!.files)[fp]!;
    assert.deepEqual(fresh, { until: T0, since: T0, complete: true }, 'a CA meshid creates is recorded from its first moment');
    const before = (await store.read())!.version;
    await Promise.all(Array.from({ length: 50 }, (_, i) => authority.recordIssued(ca, T0 + 24 * HOUR + i)));
    const after = await store.read();
    assert.notEqual(after!.version, before);
    assert.equal(parseHorizon(after!.files)[fp]!.until, T0 + 24 * HOUR + MIN, 'one write covering all 50, a minute ahead');
    await authority.recordIssued(ca, T0 + 24 * HOUR + 30_000);
    assert.equal((await store.read())!.version, after!.version, 'covered: no write');
    assert.equal(authority.current(), ca, 'the record is not a change of CA material');
  });
});

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { renewalPolicyForGraceRatio, renewalTime, retryDelay } from '../../src/agent/rotation.js';
import { runProbe } from '../../src/agent/app-probes.js';
import { parseAppProbes } from '../../src/common/app-probes-env.js';
import { parseAgentConfig } from '../../src/cli/agent.js';
import { SvidStore } from '../../src/agent/svid-store.js';
import { BundleWatcher } from '../../src/agent/bundle-watcher.js';
import { readToken } from '../../src/agent/token.js';
import { checkTokenShape } from '../../src/ca/auth/jose-verify.js';
import { MAX_TOKEN_BYTES } from '../../src/common/token-limits.js';
import type { Svid } from '../../src/agent/svid.js';
import { realTimers } from '../../src/agent/timers.js';
import { startProbeTargets, tempDir } from './helpers.js';

test('renewal at about half the remaining life, counted from receipt (not the backdated notBefore), with jitter', () => {
  const obtainedAt = 1_000_000;
  const v = { notBefore: obtainedAt - 60_000, notAfter: obtainedAt + 10_000, obtainedAt };
  assert.equal(renewalTime(v, 0.5), obtainedAt + 5_000);
  assert.equal(renewalTime(v, 0), obtainedAt + 4_000);
  assert.equal(renewalTime(v, 0.999999), obtainedAt + 5_999);
  const day = { notBefore: 0, notAfter: 86_400_000, obtainedAt: 0 };
  assert.equal(renewalTime(day, 0.5), 43_200_000);
});

test('the grace period ratio (SECRET_GRACE_PERIOD_RATIO, as in Istio) moves the renewal without leaving the life', () => {
  const obtainedAt = 1_000_000;
  const v = { notBefore: obtainedAt - 60_000, notAfter: obtainedAt + 10_000, obtainedAt };
  const late = renewalPolicyForGraceRatio(0.2);
  assert.equal(renewalTime(v, 0.5, late), obtainedAt + 8_000, 'renews with 20% of the life left');
  assert.equal(renewalTime(v, 0, late), obtainedAt + 7_000);
  const soon = renewalPolicyForGraceRatio(0.9999);
  assert.equal(renewalTime(v, 0, soon), obtainedAt);
  assert.equal(renewalTime(v, 0.999999, soon), obtainedAt + 1, 'the jitter shrinks with the share instead of crossing the start');
  assert.deepEqual(renewalPolicyForGraceRatio(0.5), { fraction: 0.5, jitter: 0.1 }, 'Istio\'s default is the agent\'s default');

  const env = { POD_NAMESPACE: 'shop', SERVICE_ACCOUNT: 'web', SECRET_GRACE_PERIOD_RATIO: '0.2' };
  const configOf = (argv: string[], e: Record<string, string>) => {
    const parsed = parseAgentConfig(['--ca-addr', 'ca:15012', ...argv], e);
    assert.ok(!('help' in parsed));
    return parsed.config;
  };
  assert.deepEqual(configOf([], env).renewal, late);
  assert.deepEqual(configOf(['--grace-period-ratio', '0.9999'], env).renewal, soon, 'the flag wins over the env');
  assert.equal(configOf([], { POD_NAMESPACE: 'shop', SERVICE_ACCOUNT: 'web' }).renewal, undefined);
  for (const bad of ['0', '1', '1.5', '-0.5', 'half', '']) {
    assert.throws(() => configOf([], { ...env, SECRET_GRACE_PERIOD_RATIO: bad }), new RegExp(`SECRET_GRACE_PERIOD_RATIO\\) "${bad}" must be a number between 0 and 1`));
  }
});

test('retry backoff grows, is capped, jittered, and never sleeps past the held certificate', () => {
  assert.equal(retryDelay(0, 0, 0, null), 250);
  assert.equal(retryDelay(0, 0.999, 0, null), 499);
  assert.equal(retryDelay(3, 0, 0, null), 2_000);
  assert.equal(retryDelay(30, 0.999, 0, null), 29_985);
  assert.equal(retryDelay(30, 0.999, 0, 10_000), 5_000, 'at most half of what is left');
  assert.equal(retryDelay(30, 0.999, 9_900, 10_000), 100);
});

function svid(notAfter: number, bundle = ['root-a'], requestedAt = 0): Svid {
  return { spiffeId: 'spiffe://td/ns/a/sa/b', chainPem: [`leaf-${notAfter}`], keyPem: 'k', bundlePem: bundle, notBefore: 0, notAfter, obtainedAt: requestedAt, requestedAt };
}

test('the store never returns an expired SVID, refuses one, and reports bundle changes separately', () => {
  const clock = new ManualClock(1000);
  const store = new SvidStore(clock);
  const changes: unknown[] = [];
  store.on('change', (c) => changes.push(c));
  assert.equal(store.setSvid(svid(500)), false);
  assert.ok(store.setSvid(svid(5000)));
  assert.ok(store.setSvid(svid(6000)));
  assert.deepEqual(changes, [{ svid: true, bundle: true }, { svid: true, bundle: false }]);
  assert.equal(store.setBundle(['root-a']), false);
  assert.ok(store.setBundle(['root-a', 'root-b']));
  clock.set(6000);
  assert.equal(store.current(), null);
  assert.deepEqual(store.roots(), ['root-a', 'root-b']);
});

test('a renewal answer sent before the mounted bundle changed does not undo that change', () => {
  const clock = new ManualClock(1000);
  const store = new SvidStore(clock);
  assert.ok(store.setSvid(svid(50_000, ['root-old'], 1000)));
  const requestedAt = clock.now();
  clock.set(2000);
  assert.ok(store.setBundle(['root-old', 'root-new']), 'rotation: the file gains the new root');
  clock.set(3000);
  assert.ok(store.setSvid(svid(60_000, ['root-old'], requestedAt)), 'the in-flight answer still installs its SVID');
  assert.deepEqual(store.roots(), ['root-old', 'root-new'], 'but not its older bundle');
  assert.ok(store.setSvid(svid(70_000, ['root-new'], clock.now())));
  assert.deepEqual(store.roots(), ['root-new'], 'an answer to a later request is newer than the file');
});

test('the bundle watcher pushes a changed root file and ignores garbage', async (t) => {
  const dir = await tempDir();
  const file = join(dir, 'root-cert.pem');
  const { encodePem } = await import('../../src/pki/pem.js');
  const { X509Certificate } = await import('node:crypto');
  const { startCa } = await import('./helpers.js');
  const cp = await startCa();
  t.after(() => cp.close());
  const { readFile } = await import('node:fs/promises');
  const root = await readFile(cp.trustBundlePath, 'utf8');
  const store = new SvidStore(new ManualClock());
  const w = new BundleWatcher({ file, store, timers: realTimers, intervalMs: 3_600_000, logger: silentLogger });
  await w.check();
  assert.deepEqual(store.roots(), []);
  await writeFile(file, root);
  await w.check();
  assert.equal(store.roots().length, 1);
  assert.equal(store.roots()[0], encodePem('CERTIFICATE', new X509Certificate(root).raw));
  await writeFile(file, 'garbage');
  await w.check();
  assert.equal(store.roots().length, 1, 'garbage ignored, last bundle kept');
});

test('token file checks name the problem and never the content', async () => {
  const dir = await tempDir();
  const f = join(dir, 't');
  await assert.rejects(readToken(f), /cannot read the token file .*ENOENT/);
  await writeFile(f, '  ');
  await assert.rejects(readToken(f), /is empty/);
  await writeFile(f, 'secret-value-not-jwt');
  await assert.rejects(readToken(f), (err: Error) => /does not hold a JWT/.test(err.message) && !err.message.includes('secret-value'));
  await writeFile(f, 'aaa.bbb.ccc\n');
  assert.equal(await readToken(f), 'aaa.bbb.ccc');
});

test('the agent reads exactly the tokens the CA accepts the shape and size of', async () => {
  const dir = await tempDir();
  const f = join(dir, 't');
  const jwtOf = (length: number) => `aaa.${'b'.repeat(length - 8)}.ccc`;
  await writeFile(f, jwtOf(MAX_TOKEN_BYTES));
  const read = await readToken(f);
  assert.equal(read.length, MAX_TOKEN_BYTES);
  assert.doesNotThrow(() => checkTokenShape(read), 'what the agent sends passes the CA\'s size and shape check');
  await writeFile(f, jwtOf(MAX_TOKEN_BYTES + 1));
  await assert.rejects(readToken(f), new RegExp(`larger than ${MAX_TOKEN_BYTES} bytes`));
  assert.throws(() => checkTokenShape(jwtOf(MAX_TOKEN_BYTES + 1)), /longer than 8192 bytes/, 'and the CA would refuse what the agent refuses');
});

test('app probes: parse MESHID_APP_PROBES and run HTTP, TCP and gRPC health probes against the app', async (t) => {
  const { httpPort: hp, tcpPort: tp, grpcPort } = await startProbeTargets(t, { httpStatus: (req) => (req.url === '/healthy' ? 200 : 500), grpcStatus: (service) => (service === 'down' ? 2 : 1) });
  const probes = parseAppProbes(JSON.stringify({
    '/app-health/app/livez': { httpGet: { path: '/healthy', port: hp }, timeoutSeconds: 1 },
    '/app-health/app/readyz': { httpGet: { path: '/broken', port: hp } },
    '/app-health/app/startupz': { tcpSocket: { port: tp } },
    '/app-health/db/livez': { grpc: { port: grpcPort } },
    '/app-health/db/readyz': { grpc: { port: grpcPort, service: 'down' } },
    '/app-health/db/startupz': { tcpSocket: { port: 1 } },
  }));
  const results = Object.fromEntries(await Promise.all([...probes].map(async ([k, p]) => [k, await runProbe(p)] as const)));
  assert.equal(results['/app-health/app/livez']!.ok, true);
  assert.deepEqual([results['/app-health/app/readyz']!.ok, results['/app-health/app/readyz']!.status], [false, 500]);
  assert.equal(results['/app-health/app/startupz']!.ok, true);
  assert.equal(results['/app-health/db/livez']!.ok, true);
  assert.deepEqual([results['/app-health/db/readyz']!.ok, results['/app-health/db/readyz']!.detail], [false, 'NOT_SERVING']);
  assert.equal(results['/app-health/db/startupz']!.ok, false);

  assert.throws(() => parseAppProbes('{'), /MESHID_APP_PROBES is not valid JSON/);
  assert.throws(() => parseAppProbes('{"/app-health/app/alive":{"tcpSocket":{"port":1}}}'), /key "\/app-health\/app\/alive" must be "\/app-health\/<container>\/<livez\|readyz\|startupz>"/);
  for (const key of ['app/livez', '/app-health/app/livez/x', '/app-health//livez', '/app-health/App_1/livez', '/health/app/livez']) {
    assert.throws(() => parseAppProbes(JSON.stringify({ [key]: { tcpSocket: { port: 1 } } })), /must be "\/app-health\/<container>/, key);
  }
  assert.throws(() => parseAppProbes('{"/app-health/app/livez":{"httpGet":{"port":"http"}}}'), /port number .*named ports/);
  assert.throws(() => parseAppProbes('{"/app-health/app/livez":{"exec":{}}}'), /needs one of httpGet, tcpSocket or grpc/);
});

test('agent flags: env fallbacks, defaults, and one clear message per wrong value', () => {
  const ok = parseAgentConfig(['--ca-addr', 'meshid.meshid-system.svc:15012'], { POD_NAMESPACE: 'shop', SERVICE_ACCOUNT: 'web' });
  assert.ok(!('help' in ok));
  if ('help' in ok) return;
  assert.equal(ok.config.caUrl, 'https://meshid.meshid-system.svc:15012');
  assert.equal(ok.config.sdsSocket, '/var/run/meshid/sds.sock');
  assert.equal(ok.config.trustDomain, 'cluster.local');
  assert.deepEqual(parseAgentConfig(['--help'], {}), { help: true });
  assert.throws(
    () => parseAgentConfig(['--ca-addr', 'http://x:1', '--namespace', 'Bad_NS', '--cert-ttl', '5s', '--once', '--status-port', '99999'], {}),
    (err: Error) => {
      const lines = err.message.split('\n');
      return lines.length === 6 && /must use https/.test(lines[0]!) && /namespace "Bad_NS"/.test(err.message) && /--service-account \(or SERVICE_ACCOUNT\) is required/.test(err.message)
        && /--cert-ttl "5s" is below the minimum of 10s/.test(err.message) && /--status-port/.test(err.message) && /--once needs --out-dir/.test(err.message);
    },
  );
  assert.throws(() => parseAgentConfig(['--bogus'], {}), /unknown flag --bogus \(see meshid agent --help\)/);
});

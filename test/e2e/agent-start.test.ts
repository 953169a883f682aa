import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { injectorConfig } from '../../src/injector/config.js';
import { injectPod } from '../../src/injector/inject.js';
import { outageProxy } from '../agent/helpers.js';
import { openssl } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';
import { Children, startServe, type Meshid } from './children.js';

/** A port nothing listens on (for now). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The lines of stderr that are not pino records: a one-line reason, or a warning that should not be there. */
const plainLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
const fetchFailures = (m: Meshid) => m.logs().filter((l) => /^SVID fetch failed/.test(String(l.msg)));

/** The NODE_OPTIONS the injector gives the proxy container, so the agent starts here as it does in a pod. */
function injectedNodeOptions(): string {
  const { pod } = injectPod({ metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'app', image: 'app' }] } }, 'shop', injectorConfig());
  const proxy = (pod.spec.initContainers ?? []).find((c) => c.name === 'meshid-proxy')!;
  return (proxy.env as Array<{ name: string; value?: string }>).find((e) => e.name === 'NODE_OPTIONS')!.value!;
}

/**
 * Node 20's V8 prints this once at start under --jitless (it turns WebAssembly off), and NODE_OPTIONS may not carry
 * the --no-expose-wasm that would silence it; Node 24's V8 has no such conflict. See README, "Sidecar memory".
 */
const NODE20_JITLESS_NOTICE = 'Warning: disabling flag --expose_wasm due to conflicting flags';
const startWarningsAllowed = Number(process.versions.node.split('.')[0]) < 24 ? [NODE20_JITLESS_NOTICE] : [];

test('agent --once waits for a CA that comes up late, gives up at --once-timeout with one line, and names a CA it does not trust', { timeout: 90_000 }, async (t) => {
  const children = new Children();
  const dir = await mkdtemp(join(tmpdir(), 'e2e-start-'));
  t.after(async () => {
    await children.killAll();
    await rm(dir, { recursive: true, force: true });
  });
  const data = join(dir, 'ca');
  const first = await startServe(children, data);
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', data]);
  assert.equal(token.code, 0, token.stderr);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, token.stdout, { mode: 0o600 });
  await first.serve.stop();
  const otherRoot = join(dir, 'other-root.pem');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'other-key.pem'), '-out', otherRoot, '-subj', '/CN=another root', '-days', '1']);

  const port = await freePort();
  const once = (name: string, caRoot: string, timeout: string, out: string) => children.run(name, [
    'agent', '--once', '--once-timeout', timeout, '--out-dir', join(dir, out), '--ca-addr', `127.0.0.1:${port}`, '--ca-root', caRoot,
    '--token-file', tokenFile, '--namespace', 'shop', '--service-account', 'cart',
  ], 60_000);

  // No CA at all: retried until the deadline, then one line saying what was wrong, and one warning in the log, not one per retry.
  const startedNone = Date.now();
  const none = await once('agent --once (no CA)', first.trustBundle, '1500ms', 'none');
  const tookNone = Date.now() - startedNone;
  assert.equal(none.code, 1, none.stderr);
  assert.deepEqual(plainLines(none.stderr), [`meshid agent: no SVID within 1500ms (--once-timeout): cannot reach the CA at https://127.0.0.1:${port}: ECONNREFUSED`]);
  assert.ok(tookNone >= 1500 && tookNone < 6000, `gave up after ${tookNone} ms`);
  assert.equal(none.stderr.split('\n').filter((l) => /"level":40.*ECONNREFUSED/.test(l)).length, 1, 'one warning, not one per retry');

  // The CA comes up 2 s after the agent starts, on the address the agent was given.
  const startedLate = Date.now();
  const late = once('agent --once (CA late)', first.trustBundle, '30s', 'late');
  await new Promise((r) => setTimeout(r, 2000));
  const second = await startServe(children, data, ['--ca-port', String(port)]);
  const got = await late;
  const tookLate = Date.now() - startedLate;
  assert.equal(got.code, 0, got.stderr);
  assert.ok(tookLate >= 2000, `succeeded after ${tookLate} ms, once the CA was up`);
  assert.match(got.stderr, /"msg":"SVID written"/);
  assert.equal(plainLines(got.stderr).filter((l) => !startWarningsAllowed.includes(l)).length, 0, got.stderr);

  // A CA whose certificate does not chain to --ca-root: said as that, not as an unreachable CA.
  const untrusted = await once('agent --once (other root)', otherRoot, '1s', 'untrusted');
  assert.equal(untrusted.code, 1);
  const reason = plainLines(untrusted.stderr);
  assert.equal(reason.length, 1, untrusted.stderr);
  assert.match(reason[0]!, new RegExp(`^meshid agent: no SVID within 1s \\(--once-timeout\\): the CA's certificate at https://127\\.0\\.0\\.1:${port} is not trusted by ${otherRoot.replace(/[.]/g, '\\.')} \\([A-Z_]+\\)$`));
  assert.doesNotMatch(untrusted.stderr, /ca_unreachable|\n\s+at /);

  assert.deepEqual(await second.serve.stop('SIGTERM'), { code: 0, signal: null });
});

test('the long-running agent stays not ready while the CA is down, says so once, becomes ready when it is back; no warning at start', { timeout: 90_000 }, async (t) => {
  const children = new Children();
  const dir = await mkdtemp(join(tmpdir(), 'e2e-outage-'));
  const data = join(dir, 'ca');
  const { serve, caUrl, trustBundle } = await startServe(children, data);
  const proxy = await outageProxy(caUrl);
  t.after(async () => {
    await children.killAll();
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', data]);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, token.stdout, { mode: 0o600 });

  proxy.down = true;
  const agent = children.start('agent', [
    'agent', '--ca-addr', proxy.url, '--ca-root', trustBundle, '--token-file', tokenFile, '--namespace', 'shop', '--service-account', 'cart',
    '--sds-socket', join(dir, 'sds.sock'), '--workload-socket', join(dir, 'workload.sock'), '--status-port', '0', '--health-port', '0',
  ], { NODE_OPTIONS: injectedNodeOptions(), MESHID_LOG_LEVEL: 'debug' });
  await agent.until(() => agent.logs().some((l) => l.msg === 'agent started'), 'agent started');
  const healthPort = agent.logs().find((l) => l.msg === 'agent started')!.healthPort as number;
  assert.deepEqual(plainLines(agent.stderr), startWarningsAllowed, 'nothing but log records on stderr at start');

  const ready = async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/healthz/ready`);
    return { status: res.status, body: await res.text() };
  };
  // Retries back off from 0.5 s: three failures take about 2 s.
  await agent.until(() => fetchFailures(agent).length >= 3, 'three failed fetches', 20_000);
  const notReady = await ready();
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /^not ready: no valid SVID held \(cannot reach the CA at https:\/\/127\.0\.0\.1:\d+: \w+\)\n$/);
  const failures = fetchFailures(agent);
  assert.equal(failures.filter((l) => l.level === 40).length, 1, 'one warning for the outage, however many retries');
  assert.match(String(failures[0]!.msg), /^SVID fetch failed: cannot reach the CA at .*; not ready until one is held$/);
  assert.ok(failures.slice(1).every((l) => l.level === 20), 'the repeats are debug lines');

  proxy.down = false;
  await waitFor(() => agent.logs().some((l) => l.msg === 'SVID installed'), { timeoutMs: 40_000, what: 'the SVID once the CA is back' });
  assert.equal((await ready()).status, 200, 'ready without a restart');
  assert.deepEqual(await agent.stop('SIGTERM'), { code: 0, signal: null });
  assert.deepEqual(await serve.stop('SIGTERM'), { code: 0, signal: null });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { envoyBootstrap } from '../../src/agent/envoy-bootstrap.js';
import { MAIN } from '../helpers/cli.js';
import { createNetns } from '../helpers/netns.js';
import { Children, Meshid } from '../e2e/children.js';
import { STATE_FILE } from './programs/standin/state-file.js';
import { envoyWrapper, forwardPorts, httpGet, readAll, STANDIN, stateWhen } from './standin-support.js';

const READY_LINE = /^meshid ready: ca=(https:\/\/127\.0\.0\.1:\d+)\/v1\/certificates .* trust-bundle=(\S+)$/m;

test('the real agent runs the stand-in as its Envoy: ready only once the stand-in is LIVE, default and ROOTCA ACKed, a renewal pushed on the open stream, LDS and CDS ACKed', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'standin-'));
  const ns = await createNetns('standin');
  const children = new Children();
  const inNs: Meshid[] = [];
  const start = (name: string, args: string[]) => {
    const child = new Meshid(name, ns.spawn(process.execPath, [MAIN, ...args]));
    inNs.push(child);
    return child;
  };
  t.after(async () => {
    await Promise.all(inNs.filter((c) => c.exit === null).map((c) => c.stop('SIGKILL')));
    await children.killAll();
    await ns.remove();
    await rm(dir, { recursive: true, force: true });
  });

  const serve = start('serve', ['serve', '--local', '--data-dir', join(dir, 'ca'), '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0']);
  await serve.until(() => READY_LINE.test(serve.stdout), 'the ready line');
  const [, caUrl, trustBundle] = READY_LINE.exec(serve.stdout)!;
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'web', '--data-dir', join(dir, 'ca')]);
  assert.equal(token.code, 0, token.stderr);
  await writeFile(join(dir, 'token'), token.stdout, { mode: 0o600 });

  const gate = join(dir, 'gate');
  const envoyDir = join(dir, 'certs');
  await mkdir(envoyDir);
  const stateFile = join(envoyDir, STATE_FILE);
  const agent = start('agent', [
    'agent', '--ca-addr', caUrl!, '--ca-root', trustBundle!, '--token-file', join(dir, 'token'), '--namespace', 'shop',
    '--service-account', 'web', '--sds-socket', join(dir, 'sds.sock'), '--cert-ttl', '10s',
    '--envoy-binary', await envoyWrapper(dir, gate), '--envoy-config', join(envoyDir, 'envoy-bootstrap.json'),
  ]);
  const fwd = await forwardPorts(ns, dir, [15000, 15001, 15006, 15021, 15090]);
  inNs.push(fwd);
  const sock = (port: number) => join(dir, `${port}.sock`);

  await agent.until(() => agent.logs().some((l) => l.msg === 'SVID installed'), 'the first SVID');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await httpGet(sock(15021), '/healthz/ready')).status, 503, 'SVID held but the proxy not LIVE: not ready');
  assert.ok(!existsSync(stateFile), 'the stand-in has not started yet');

  await writeFile(gate, '');
  const gateAt = Date.now();
  let readyAt = 0;
  for (const end = Date.now() + 20_000; Date.now() < end && !readyAt; await new Promise((r) => setTimeout(r, 50))) {
    if ((await httpGet(sock(15021), '/healthz/ready')).status === 200) readyAt = Date.now();
  }
  assert.ok(readyAt, `agent ready once the stand-in is LIVE; agent stderr: ${agent.stderr.slice(-1500)}`);
  assert.deepEqual(await httpGet(sock(15000), '/ready'), { status: 200, body: 'LIVE\n' });
  t.diagnostic(`agent ready ${readyAt - gateAt} ms after the stand-in was let start`);

  const { state, text } = await stateWhen(stateFile, (s) => s.ready && s.acks >= 2, 'default and ROOTCA ACKed');
  assert.equal(state.nacks, 0);
  assert.equal(state.streams, 1);
  assert.deepEqual(Object.keys(state.secrets).sort(), ['ROOTCA', 'default']);
  const leaf = new X509Certificate(state.secrets.default!.certificateChain!);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
  assert.equal(state.secrets.default!.hasPrivateKey, true);
  assert.equal(state.secrets.ROOTCA!.trustedCa, await readFile(trustBundle!, 'utf8'));
  assert.doesNotMatch(text, /PRIVATE KEY/, 'no key in the state file');
  assert.deepEqual(state.listeners.map((l) => `${l.name}@${l.address}:${l.port}`).sort(), ['prometheus@0.0.0.0:15090', 'virtualInbound@0.0.0.0:15006', 'virtualOutbound@0.0.0.0:15001']);

  assert.equal(await readAll(sock(15090)), 'envoy-standin listener=prometheus port=15090\n', 'the static listener answers with its marker');
  assert.deepEqual(Object.keys(state.xds).sort(), ['CDS', 'LDS'], 'listeners and clusters came over LDS and CDS');
  assert.ok(state.xds.LDS!.acks >= 1 && state.xds.CDS!.acks >= 1 && state.xds.LDS!.nacks + state.xds.CDS!.nacks === 0, JSON.stringify(state.xds));
  for (const name of ['virtualOutbound', 'virtualInbound'] as const) {
    const port = name === 'virtualOutbound' ? 15001 : 15006;
    // Straight to the listener, not redirected: Envoy would forward it to itself; the stand-in closes it.
    assert.equal(await readAll(sock(port)), '', `${name}: a connection that was not redirected is closed`);
    await stateWhen(stateFile, (s) => (s.connections[`${name}/not-redirected`] ?? 0) >= 1, `${name} counted it`);
  }

  // --cert-ttl 10s: the agent renews at about half of it and pushes the new SVID on the stream already open.
  const firstVersion = state.secrets.default!.version;
  const renewed = await stateWhen(stateFile, (s) => s.secrets.default!.version !== firstVersion, 'a renewal pushed', 15_000);
  assert.equal(renewed.state.streams, 1, 'the push came on the open stream');
  assert.ok(renewed.state.acks >= 3, 'the push was ACKed');
  assert.notEqual(renewed.state.secrets.default!.certificateChain, state.secrets.default!.certificateChain);

  const standinPid = renewed.state.pid;
  assert.deepEqual(await agent.stop('SIGTERM'), { code: 0, signal: null }, agent.stderr.slice(-1500));
  assert.throws(() => process.kill(standinPid, 0), /ESRCH/, 'the stand-in exited with the agent');
});

test('a bootstrap Envoy would refuse makes the stand-in exit 1 naming the field; a missing -c too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'standin-bad-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const boot = envoyBootstrap({ nodeId: 'sidecar~x', cluster: 'web.shop', sdsSocketPath: join(dir, 'sds.sock'), podIps: ['127.0.0.1'] });
  const clusters = (boot.static_resources as { clusters: Array<Record<string, unknown>> }).clusters;
  clusters[0]!.conect_timeout = '1s';
  const file = join(dir, 'bootstrap.json');
  await writeFile(file, JSON.stringify(boot));
  const run = async (args: string[]) => {
    const child = new Meshid('standin', spawn(process.execPath, [STANDIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    t.after(() => child.exit ?? child.stop('SIGKILL'));
    return { ...(await child.exited), stderr: child.stderr };
  };

  const bad = await run(['-c', file, '--drain-time-s', '5']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `envoy-standin: error initializing configuration '${file}': bootstrap.static_resources.clusters[0].conect_timeout: envoy.config.cluster.v3.Cluster has no such field\n`);
  assert.ok(!existsSync(join(dir, STATE_FILE)), 'nothing started');

  const none = await run(['--drain-time-s', '5']);
  assert.deepEqual([none.code, none.stderr], [1, 'envoy-standin: -c FILE (the bootstrap) is required\n']);
  const missing = await run(['-c', join(dir, 'nope.json')]);
  assert.deepEqual([missing.code, missing.stderr], [1, `envoy-standin: cannot read the bootstrap '${join(dir, 'nope.json')}': ENOENT\n`]);
});

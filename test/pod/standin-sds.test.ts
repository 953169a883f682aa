import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { envoyBootstrap } from '../../src/agent/envoy-bootstrap.js';
import { clusters } from '../../src/agent/xds/clusters.js';
import { listeners } from '../../src/agent/xds/listeners.js';
import { defaultPlan } from '../../src/agent/xds/plan-source.js';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { STATE_FILE } from './programs/standin/state-file.js';
import { Meshid } from '../e2e/children.js';
import { createNetns } from '../helpers/netns.js';
import { forwardPorts, httpGet, STANDIN, stateWhen } from './standin-support.js';

const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const defs = loadEnvoyProtos(['envoy/service/secret/v3/sds.proto', 'envoy/extensions/transport_sockets/tls/v3/tls.proto']);
const secretType = defs['envoy.extensions.transport_sockets.tls.v3.Secret'] as MessageTypeDefinition<object, object>;

interface Request { node?: { id?: string; cluster?: string }; version_info?: string; resource_names?: string[]; type_url?: string; response_nonce?: string; error_detail?: { code?: number; message?: string } }
type Call = grpc.ServerDuplexStream<Request, object>;

/** An SDS server of the test's own over a Unix socket: it records every stream and request and answers only when told. */
async function sdsServer(path: string) {
  const calls: Array<{ call: Call; requests: Request[]; at: number }> = [];
  const server = new grpc.Server();
  server.addService(defs['envoy.service.secret.v3.SecretDiscoveryService'] as grpc.ServiceDefinition, {
    StreamSecrets: (call: Call) => {
      const entry = { call, requests: [] as Request[], at: Date.now() };
      calls.push(entry);
      call.on('data', (r: Request) => entry.requests.push(r));
      call.on('error', () => undefined);
    },
    DeltaSecrets: (call: Call) => call.end(),
    FetchSecrets: (_: unknown, cb: grpc.sendUnaryData<object>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const request = async (stream: number, index: number): Promise<Request> => {
    for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
      const r = calls[stream]?.requests[index];
      if (r) return r;
    }
    throw new Error(`no request ${index} on stream ${stream}; streams: ${JSON.stringify(calls.map((c) => c.requests))}`);
  };
  return { calls, request, close: () => server.forceShutdown() };
}

/**
 * The agent's bootstrap with what LDS and CDS would give it made static, so the test's server needs to speak
 * SDS only (the secrets are those the inbound listener's mTLS chain names).
 */
function staticBootstrap(nodeId: string, sdsSocketPath: string): Record<string, any> {
  const boot = envoyBootstrap({ nodeId, cluster: 'web.shop', sdsSocketPath, podIps: ['127.0.0.1'] }) as Record<string, any>;
  const plan = defaultPlan('cluster.local', null);
  delete boot.dynamic_resources;
  boot.static_resources.listeners.push(...listeners(plan, { ips: ['127.0.0.1'] }));
  boot.static_resources.clusters.push(...clusters(plan));
  return boot;
}

const respond = (call: Call, version: string, nonce: string, resources: Buffer[]) =>
  call.write({ version_info: version, nonce, type_url: SECRET_TYPE_URL, resources: resources.map((value) => ({ type_url: SECRET_TYPE_URL, value })) });

test('the stand-in speaks SDS as Envoy does: node on the first request only, NACKs what it cannot use, stays PRE_INITIALIZING until every secret came, reconnects with backoff', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'standin-sds-'));
  const ns = await createNetns('standin-sds');
  const sds = await sdsServer(join(dir, 'sds.sock'));
  const kids: Meshid[] = [];
  t.after(async () => {
    await Promise.all(kids.filter((c) => c.exit === null).map((c) => c.stop('SIGKILL')));
    sds.close();
    await ns.remove();
    await rm(dir, { recursive: true, force: true });
  });
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=standin',
    '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  const [cert, key] = await Promise.all([readFile(join(dir, 'cert.pem')), readFile(join(dir, 'key.pem'))]);
  const boot = join(dir, 'envoy-bootstrap.json');
  await writeFile(boot, JSON.stringify(staticBootstrap('sidecar~spiffe://cluster.local/ns/shop/sa/web', join(dir, 'sds.sock'))));
  const standin = new Meshid('standin', ns.spawn(process.execPath, [STANDIN, '-c', boot, '--drain-time-s', '5', '--log-level', 'info']));
  kids.push(standin, await forwardPorts(ns, dir, [15000]));
  const admin = () => httpGet(join(dir, '15000.sock'), '/ready');
  const stateFile = join(dir, STATE_FILE);

  const first = await sds.request(0, 0);
  assert.deepEqual(first.node, { id: 'sidecar~spiffe://cluster.local/ns/shop/sa/web', cluster: 'web.shop' });
  assert.deepEqual([...first.resource_names!].sort(), ['ROOTCA', 'default']);
  assert.equal(first.type_url, SECRET_TYPE_URL);
  assert.equal(first.response_nonce ?? '', '');
  await stateWhen(stateFile, (s) => s.streams === 1 && s.listeners.length === 3, 'listeners bound, one stream');
  assert.deepEqual(await admin(), { status: 503, body: 'PRE_INITIALIZING\n' });

  const call = sds.calls[0]!.call;
  respond(call, 'v1', 'n1', [secretType.serialize({ name: 'default', tls_certificate: { certificate_chain: { inline_bytes: cert } } }) as Buffer]);
  const nack = await sds.request(0, 1);
  assert.equal(nack.response_nonce, 'n1');
  assert.equal(nack.version_info ?? '', '', 'a NACK carries the last accepted version: none yet');
  assert.match(nack.error_detail!.message!, /secret "default": tls_certificate has no private_key/);
  assert.equal(nack.node, undefined, 'set_node_on_first_message_only');

  respond(call, 'v1', 'n2', [Buffer.from('not a secret \xff\xff')]);
  assert.match((await sds.request(0, 2)).error_detail!.message!, /does not decode as a Secret/);

  respond(call, 'v2', 'n3', [
    secretType.serialize({ name: 'default', tls_certificate: { certificate_chain: { inline_bytes: cert }, private_key: { inline_bytes: key } } }) as Buffer,
  ]);
  const ack = await sds.request(0, 3);
  assert.deepEqual({ ...ack, resource_names: [...ack.resource_names!].sort() }, { version_info: 'v2', response_nonce: 'n3', resource_names: ['ROOTCA', 'default'], type_url: SECRET_TYPE_URL });
  assert.deepEqual(await admin(), { status: 503, body: 'PRE_INITIALIZING\n' }, 'ROOTCA still missing');

  respond(call, 'v3', 'n4', [secretType.serialize({ name: 'ROOTCA', validation_context: { trusted_ca: { inline_bytes: cert } } }) as Buffer]);
  assert.equal((await sds.request(0, 4)).response_nonce, 'n4');
  const { state, text } = await stateWhen(stateFile, (s) => s.ready, 'ready');
  assert.deepEqual(await admin(), { status: 200, body: 'LIVE\n' });
  assert.deepEqual([state.acks, state.nacks, state.streams], [2, 2, 1]);
  assert.deepEqual(state.secrets, { default: { version: 'v2', certificateChain: cert.toString(), hasPrivateKey: true }, ROOTCA: { version: 'v3', trustedCa: cert.toString() } });
  assert.doesNotMatch(text, /PRIVATE KEY/);

  const droppedAt = Date.now();
  call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'test drops the stream' });
  const again = await sds.request(1, 0);
  const delay = sds.calls[1]!.at - droppedAt;
  assert.ok(delay >= 200 && delay < 2000, `reconnected after a backoff of about 250-500 ms, took ${delay} ms`);
  t.diagnostic(`reconnected ${delay} ms after the stream was dropped`);
  assert.deepEqual(again.node, { id: 'sidecar~spiffe://cluster.local/ns/shop/sa/web', cluster: 'web.shop' }, 'a new stream sends the node again');
  assert.equal(again.version_info, 'v3', 'and the version it holds');
  await stateWhen(stateFile, (s) => s.streams === 2 && s.ready, 'second stream, still ready');
  assert.deepEqual(await admin(), { status: 200, body: 'LIVE\n' }, 'secrets survive a reconnect');

  assert.deepEqual(await standin.stop('SIGTERM'), { code: 0, signal: null }, standin.stderr);
  assert.match(standin.stderr, /SDS stream to xds-grpc ended \(UNAVAILABLE: test drops the stream\); reconnecting in \d+ ms/);
  assert.doesNotMatch(standin.stderr, /PRIVATE KEY/);
});

test('a listener port already taken makes the stand-in exit 1 as Envoy does', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'standin-bind-'));
  const ns = await createNetns('standin-bind');
  t.after(async () => {
    await ns.remove();
    await rm(dir, { recursive: true, force: true });
  });
  const boot = join(dir, 'envoy-bootstrap.json');
  await writeFile(boot, JSON.stringify(staticBootstrap('sidecar~x', join(dir, 'sds.sock'))));
  const holder = new Meshid('holder', ns.spawn(process.execPath, ['-e', "require('net').createServer().listen(15006, '0.0.0.0', () => console.log('ready'))"]));
  t.after(() => holder.stop('SIGKILL'));
  await holder.until(() => holder.stdout.includes('ready'), 'port 15006 taken');
  const standin = new Meshid('standin', ns.spawn(process.execPath, [STANDIN, '-c', boot]));
  const exit = await standin.exited;
  assert.deepEqual(exit, { code: 1, signal: null });
  assert.equal(standin.stderr, "envoy-standin: cannot bind '0.0.0.0:15006' for listener virtualInbound: Address already in use\n");
});

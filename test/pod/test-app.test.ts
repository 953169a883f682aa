import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { Meshid } from '../e2e/children.js';
import { TEST_APP } from './standin-support.js';

// grpc.health.v1 from its published schema, independent of the app's hand encoding.
const health = protobuf.Root.fromJSON({ nested: { grpc: { nested: { health: { nested: { v1: { nested: {
  HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
  HealthCheckResponse: { fields: { status: { type: 'ServingStatus', id: 1 } }, nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } } },
} } } } } } } });
const Req = health.lookupType('grpc.health.v1.HealthCheckRequest');
const Res = health.lookupType('grpc.health.v1.HealthCheckResponse');
const HealthClient = grpc.makeGenericClientConstructor({
  Check: {
    path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
    requestSerialize: (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish()), requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b), { enums: String, defaults: true }),
  },
}, 'Health');

function grpcCheck(client: grpc.Client): Promise<string> {
  return new Promise((resolve, reject) =>
    (client as unknown as { Check(r: object, cb: (e: Error | null, r: { status: string }) => void): void }).Check({ service: '' }, (err, res) => (err ? reject(err) : resolve(res.status))));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '::', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** What a TCP server says on connect, or the connect error's code. */
function tcpLine(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const s = connect(port, host);
    s.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  return `${res.status} ${await res.text()}`;
}

const pause = () => new Promise((r) => setTimeout(r, 20));

function startApp(args: string[]): Meshid {
  return new Meshid('test-app', spawn(process.execPath, [TEST_APP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

test('test-app answers HTTP, TCP and gRPC health on IPv4 and IPv6; SIGUSR1 makes it unhealthy, SIGUSR2 healthy again, SIGTERM exits 0', { timeout: 30_000 }, async (t) => {
  const [http, tcp, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const app = startApp(['--http-port', String(http), '--tcp-port', String(tcp), '--grpc-port', String(grpcPort), '--name', 'web']);
  const client = new HealthClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const client6 = new HealthClient(`[::1]:${grpcPort}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    client6.close();
    if (app.exit === null) await app.stop('SIGKILL');
  });
  await app.until(() => app.stdout.includes('\n'), 'ready');
  assert.equal(app.stdout, 'ready\n');

  for (const host of ['127.0.0.1', '[::1]']) {
    assert.equal(await get(`http://${host}:${http}/`), '200 web http\n');
    assert.equal(await get(`http://${host}:${http}/any/path`), '200 web http\n');
    assert.equal(await get(`http://${host}:${http}/healthz`), '200 ok');
  }
  assert.equal(await tcpLine('127.0.0.1', tcp), `web tcp ${tcp}\n`);
  assert.equal(await tcpLine('::1', tcp), `web tcp ${tcp}\n`);
  assert.deepEqual([await grpcCheck(client), await grpcCheck(client6)], ['SERVING', 'SERVING']);

  app.proc.kill('SIGUSR1');
  let sick = '';
  for (const end = Date.now() + 3000; Date.now() < end && sick !== '500 unhealthy'; await pause()) sick = await get(`http://127.0.0.1:${http}/healthz`);
  assert.equal(sick, '500 unhealthy');
  assert.equal(await get(`http://127.0.0.1:${http}/`), '200 web http\n', 'only the health check fails');
  assert.equal(await grpcCheck(client), 'NOT_SERVING');
  assert.equal(await tcpLine('127.0.0.1', tcp), 'ECONNREFUSED', 'the TCP port is closed while unhealthy');

  app.proc.kill('SIGUSR2');
  let well = '';
  for (const end = Date.now() + 3000; Date.now() < end && well !== `web tcp ${tcp}\n`; await pause()) well = await tcpLine('127.0.0.1', tcp);
  assert.equal(well, `web tcp ${tcp}\n`, 'TCP listens again');
  assert.equal(await get(`http://[::1]:${http}/healthz`), '200 ok');
  assert.equal(await grpcCheck(client6), 'SERVING');

  assert.deepEqual(await app.stop('SIGTERM'), { code: 0, signal: null });
  assert.equal(app.stderr, '');
});

test('test-app --exit-after exits on its own with --exit-code; bad flags and a taken port get one line each', { timeout: 30_000 }, async () => {
  const started = Date.now();
  const job = startApp(['--exit-after', '300', '--exit-code', '3']);
  assert.deepEqual(await job.exited, { code: 3, signal: null });
  assert.ok(Date.now() - started >= 300);
  assert.equal(job.stdout, 'ready\n');

  const bad = startApp(['--http-port', 'eighty', '--exit-code', '7']);
  assert.deepEqual(await bad.exited, { code: 2, signal: null });
  assert.equal(bad.stderr, 'test-app: --http-port "eighty" must be a port number from 1 to 65535\ntest-app: --exit-code needs --exit-after: the app exits on its own only then\n');

  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '::', r));
  const port = (holder.address() as AddressInfo).port;
  try {
    const taken = startApp(['--tcp-port', String(port)]);
    assert.deepEqual(await taken.exited, { code: 1, signal: null });
    assert.equal(taken.stderr, `test-app: cannot listen on TCP port ${port}: EADDRINUSE\n`);
    assert.equal(taken.stdout, '');
  } finally {
    holder.close();
  }
});

import * as grpc from '@grpc/grpc-js';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/common/log.js';
import { silentLogger } from '../../src/common/log.js';
import { startControlPlane, type ControlPlane } from '../../src/controlplane/start.js';
import { mintLocalToken } from '../../src/ca/auth/local-issuer.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse, type SecretMessage } from '../../src/agent/sds-protos.js';
import type { Timers } from '../../src/agent/timers.js';

export async function tempDir(prefix = 'mia-'): Promise<string> {
  // Unix socket paths are limited to ~107 bytes: keep them short.
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startCa(o: { workloadCertTtlMs?: number } = {}): Promise<ControlPlane> {
  return startControlPlane({
    dataDir: await tempDir('mica-'), local: true, caPort: 0, istioCaPort: 0, webhookPort: 0, monitoringPort: 0,
    workloadCertTtlMs: o.workloadCertTtlMs, logger: silentLogger,
  });
}

export async function writeToken(cp: ControlPlane, dir: string, namespace: string, serviceAccount: string): Promise<string> {
  const file = join(dir, `token-${serviceAccount}`);
  await writeFile(file, await mintLocalToken({ dataDir: cp.dataDir, namespace, serviceAccount }));
  return file;
}

/** A complete agent config against `cp`, every port picked by the OS, files under a fresh directory. */
export async function agentConfig(cp: ControlPlane, o: { namespace?: string; serviceAccount?: string; ttlSeconds?: number; outDir?: boolean } = {}): Promise<AgentConfig> {
  const dir = await tempDir();
  const namespace = o.namespace ?? 'shop';
  const serviceAccount = o.serviceAccount ?? 'web';
  return {
    caUrl: cp.caUrl, caRootFile: cp.trustBundlePath, tokenFile: await writeToken(cp, dir, namespace, serviceAccount),
    namespace, serviceAccount, trustDomain: 'cluster.local', certTtlSeconds: o.ttlSeconds,
    keyAlgorithm: 'ec-p256', outDir: o.outDir ? join(dir, 'out') : undefined, sdsSocket: join(dir, 'sds.sock'),
    workloadSocket: join(dir, 'workload.sock'),
    statusPort: 0, healthPort: 0, listenHost: '127.0.0.1', envoyConfigPath: join(dir, 'envoy.json'),
    bundlePollMs: BUNDLE_POLL_MS,
  };
}

/** Long, so ManualTimers can tell the bundle poll from a renewal; tests of the poll call check() themselves. */
export const BUNDLE_POLL_MS = 3_600_000;

/** Timers that fire only when the test says so. */
export class ManualTimers implements Timers {
  pending: Array<{ ms: number; fn: () => void; id: number }> = [];
  private ids = 0;
  after(ms: number, fn: () => void): () => void {
    const id = ++this.ids;
    this.pending.push({ ms, fn, id });
    return () => {
      this.pending = this.pending.filter((p) => p.id !== id);
    };
  }
  /** Waits until the loop has scheduled its next renewal, then fires it. */
  async fireWhenScheduled(): Promise<number> {
    while (!this.pending.some((p) => p.ms !== BUNDLE_POLL_MS)) await new Promise((r) => setTimeout(r, 5));
    return this.fireLongest();
  }
  /** Fires the renewal (or retry) timer: the longest pending one that is not the bundle poll. */
  fireLongest(): number {
    const next = [...this.pending].filter((p) => p.ms !== BUNDLE_POLL_MS).sort((a, b) => b.ms - a.ms)[0];
    if (!next) throw new Error('no timer pending');
    this.pending = this.pending.filter((p) => p !== next);
    next.fn();
    return next.ms;
  }
}

/** A logger whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const dest = new Writable({ write(chunk, _enc, cb) { out.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'debug' }, dest), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

export interface TestStream {
  send(req: DiscoveryRequest): void;
  next(timeoutMs?: number): Promise<DiscoveryResponse>;
  /** Asserts nothing arrives within `ms`. */
  silence(ms: number): Promise<void>;
  status: Promise<grpc.StatusObject>;
  close(): void;
}

/** A real gRPC client, built from Envoy's proto files, over the agent's Unix socket. */
export function sdsClient(socketPath: string): { client: grpc.Client; stream(): TestStream; close(): void } {
  return discoveryClient(socketPath, sdsProtos().service, 'StreamSecrets', SECRET_TYPE_URL);
}

/** Streams of one xDS method (StreamSecrets, StreamListeners, ...) of `service`, each request typed `typeUrl`. */
export function discoveryClient(socketPath: string, service: grpc.ServiceDefinition, method: string, typeUrl: string): { client: grpc.Client; stream(): TestStream; close(): void } {
  const Client = grpc.makeGenericClientConstructor(service, method);
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  return {
    client,
    close: () => client.close(),
    stream(): TestStream {
      const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>>)[method]!.call(client);
      const queue: DiscoveryResponse[] = [];
      const waiters: Array<(r: DiscoveryResponse) => void> = [];
      call.on('data', (r: DiscoveryResponse) => (waiters.length ? waiters.shift()!(r) : queue.push(r)));
      call.on('error', () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      return {
        send: (req) => call.write({ type_url: typeUrl, ...req }),
        next: (timeoutMs = 5000) =>
          queue.length
            ? Promise.resolve(queue.shift()!)
            : new Promise((resolve, reject) => {
                const t = setTimeout(() => reject(new Error(`no ${method} response within ${timeoutMs} ms`)), timeoutMs);
                waiters.push((r) => { clearTimeout(t); resolve(r); });
              }),
        silence: async (ms) => {
          await new Promise((r) => setTimeout(r, ms));
          if (queue.length) throw new Error(`unexpected ${method} response: ${queue[0]!.nonce}`);
        },
        status,
        close: () => call.cancel(),
      };
    },
  };
}

export function decodeSecret(res: DiscoveryResponse): SecretMessage {
  if (res.resources.length !== 1) throw new Error(`expected one resource per response, got ${res.resources.length}`);
  if (res.resources[0]!.type_url !== SECRET_TYPE_URL) throw new Error(`resource type ${res.resources[0]!.type_url}`);
  return sdsProtos().decodeSecret(res.resources[0]!.value);
}

/** A TCP forwarder to the CA that the test can take down and bring back: a real outage, not a mock. */
export async function outageProxy(caUrl: string): Promise<{ url: string; down: boolean; close(): Promise<void> }> {
  const { createServer, connect } = await import('node:net');
  const target = new URL(caUrl);
  const state = { down: false };
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((inbound) => {
    if (state.down) return inbound.destroy();
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    get down() { return state.down; },
    set down(v: boolean) {
      state.down = v;
      if (v) for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

/**
 * An app's health endpoints on loopback, for the agent's probes to knock on: HTTP answering `httpStatus(req)`,
 * a TCP port that accepts, and grpc.health.v1 answering `grpcStatus(service)` (1 SERVING, 2 NOT_SERVING).
 */
export async function startProbeTargets(
  t: { after(fn: () => unknown): void },
  o: { httpStatus: (req: IncomingMessage) => number; grpcStatus?: (service: string) => number },
): Promise<{ httpPort: number; tcpPort: number; grpcPort: number }> {
  const http = createHttpServer((req, res) => res.writeHead(o.httpStatus(req)).end());
  const tcp = createNetServer((s) => s.end());
  const grpcServer = new grpc.Server();
  grpcServer.register('/grpc.health.v1.Health/Check', (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    const service = call.request.length > 2 ? call.request.subarray(2).toString() : '';
    cb(null, Buffer.from([0x08, o.grpcStatus?.(service) ?? 1]));
  }, (b: Buffer) => b, (b: Buffer) => b, 'unary');
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const grpcPort = await new Promise<number>((r, j) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))));
  t.after(() => { http.close(); tcp.close(); grpcServer.forceShutdown(); });
  return { httpPort: (http.address() as AddressInfo).port, tcpPort: (tcp.address() as AddressInfo).port, grpcPort };
}

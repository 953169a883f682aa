import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../src/common/log.js';
import type { ControlPlane } from '../src/controlplane/start.js';
import { buildCsrPem } from '../src/pki/csr-build.js';
import { generateKeyPair } from '../src/pki/keys.js';
import { startAgent, fetchOnce } from '../src/agent/agent.js';
import type { AgentConfig } from '../src/agent/config.js';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from '../src/agent/sds-protos.js';
import type { Timers } from '../src/agent/timers.js';

interface Figure { name: string; value: number; unit: string; ceiling?: number; ratio?: number; note?: string }

const NEVER_MS = 3_600_000;

async function config(cp: ControlPlane, sa: string): Promise<AgentConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'mib-'));
  const tokenFile = join(dir, 'token');
  const { mintLocalToken } = await import('../src/ca/auth/local-issuer.js');
  await writeFile(tokenFile, await mintLocalToken({ dataDir: cp.dataDir, namespace: 'bench', serviceAccount: sa }));
  return {
    caUrl: cp.caUrl, caRootFile: cp.trustBundlePath, tokenFile, namespace: 'bench', serviceAccount: sa, trustDomain: 'cluster.local',
    keyAlgorithm: 'ec-p256', sdsSocket: join(dir, 'sds.sock'), statusPort: 0, healthPort: 0, listenHost: '127.0.0.1',
    envoyConfigPath: join(dir, 'envoy.json'), bundlePollMs: NEVER_MS,
  };
}

function openStream(socket: string): { next(): Promise<DiscoveryResponse>; send(r: DiscoveryRequest): void; close(): void } {
  const Client = grpc.makeGenericClientConstructor(sdsProtos().service, 'SDS');
  const client = new Client(`unix://${socket}`, grpc.credentials.createInsecure());
  const call = (client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamSecrets();
  const queue: DiscoveryResponse[] = [];
  const waiters: Array<(r: DiscoveryResponse) => void> = [];
  call.on('data', (r: DiscoveryResponse) => (waiters.length ? waiters.shift()!(r) : queue.push(r)));
  call.on('error', () => undefined);
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
    send: (r) => call.write({ type_url: SECRET_TYPE_URL, ...r }),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Renewals fire as soon as they are scheduled; the bundle poll (exactly NEVER_MS) never does. */
const immediateTimers: Timers = {
  after: (ms, fn) => {
    if (ms === NEVER_MS) return () => undefined;
    const t = setImmediate(fn);
    return () => clearImmediate(t);
  },
};

export async function benchAgent(): Promise<Figure[]> {
  const t0 = performance.now();
  sdsProtos();
  const protoLoadMs = performance.now() - t0;
  // Imported here, not at the top: the RSS child imports this file and must load only the agent.
  const { startControlPlane } = await import('../src/controlplane/start.js');
  const cp = await startControlPlane({ dataDir: await mkdtemp(join(tmpdir(), 'mib-ca-')), local: true, caPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger });
  try {
    const keyCsr: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = performance.now();
      const { privateKey, publicKey } = generateKeyPair('ec-p256');
      buildCsrPem(privateKey, publicKey, 'spiffe://cluster.local/ns/bench/sa/x');
      keyCsr.push(performance.now() - s);
    }
    const fetches: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await config(cp, `once${i}`);
      const s = performance.now();
      await fetchOnce(c);
      fetches.push(performance.now() - s);
    }

    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await config(cp, `start${i}`);
      const s = performance.now();
      const agent = await startAgent(c);
      const stream = openStream(c.sdsSocket);
      stream.send({ resource_names: ['default'] });
      await stream.next();
      starts.push(performance.now() - s);
      stream.close();
      await agent.stop();
    }

    const push = await pushLatency(cp);
    const rss = await rssAfterRotations(cp);
    const startMs = median(starts);
    return [
      { name: 'agent start to first `default` over SDS, local CA (median of 10)', value: startMs, unit: 'ms', ceiling: 150, note: `goal < 150 ms; floor in this run: key+CSR ${median(keyCsr).toFixed(2)} ms, whole CA fetch (token, key, CSR, HTTPS, verify) ${median(fetches).toFixed(1)} ms; Envoy proto load once per process ${protoLoadMs.toFixed(0)} ms, not included` },
      { name: 'SDS push latency, new SVID installed to the client seeing it (median of 50)', value: push.pushMs, unit: 'ms', ceiling: median(keyCsr), ratio: push.pushMs / median(keyCsr), note: 'ceiling: one key generation + CSR in this run' },
      { name: 'renewal trigger to the client seeing the new SVID (median of 50)', value: push.renewalMs, unit: 'ms', ceiling: median(fetches), note: 'ceiling: a whole CA fetch in this run' },
      { name: 'agent RSS after 100 rotations', value: rss.at100, unit: 'MB', ceiling: 60, note: `goal < 60 MB; ${rss.atStart.toFixed(1)} MB after the first SVID` },
      { name: 'agent RSS after 1,000 rotations', value: rss.at1000, unit: 'MB', ceiling: 60, note: `goal < 60 MB and no growth: ${(rss.at1000 - rss.at100).toFixed(1)} MB from 100 to 1,000; ${rss.rate.toFixed(0)} rotations/s` },
    ];
  } finally {
    await cp.close();
  }
}

async function pushLatency(cp: ControlPlane): Promise<{ pushMs: number; renewalMs: number }> {
  let fire: (() => void) | null = null;
  const timers: Timers = { after: (ms, fn) => (ms === NEVER_MS ? () => undefined : ((fire = fn), () => (fire = null))) };
  const c = await config(cp, 'push');
  const agent = await startAgent(c, { timers });
  fire!();
  await agent.ready();
  const stream = openStream(c.sdsSocket);
  stream.send({ resource_names: ['default'] });
  await stream.next();
  let installedAt = 0;
  agent.store.prependListener('change', () => (installedAt = performance.now()));
  const pushes: number[] = [];
  const renewals: number[] = [];
  for (let i = 0; i < 50; i++) {
    while (!fire) await new Promise((r) => setImmediate(r));
    const s = performance.now();
    const f: () => void = fire;
    fire = null;
    f();
    await stream.next();
    const seen = performance.now();
    pushes.push(seen - installedAt);
    renewals.push(seen - s);
  }
  stream.close();
  await agent.stop();
  return { pushMs: median(pushes), renewalMs: median(renewals) };
}

/** In a child process of its own, so the figure is the agent's memory, not the CA's or the bench's. */
async function rssAfterRotations(cp: ControlPlane): Promise<{ atStart: number; at100: number; at1000: number; rate: number }> {
  const c = await config(cp, 'rss');
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--expose-gc', self, '--rss-child'], { env: { ...process.env, MESHID_BENCH_CONFIG: JSON.stringify(c) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`RSS child exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function rssChild(): Promise<void> {
  const c = JSON.parse(process.env.MESHID_BENCH_CONFIG!) as AgentConfig;
  const agent = await startAgent({ ...c, outDir: join(c.sdsSocket, '..', 'out') }, { timers: immediateTimers });
  const stream = openStream(c.sdsSocket);
  stream.send({ resource_names: ['default', 'ROOTCA'] });
  const mb = () => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().rss / 1024 / 1024;
  };
  await agent.ready();
  const atStart = mb();
  let rotations = 0;
  let at100 = 0;
  let started = 0;
  await new Promise<void>((resolve) => {
    agent.store.on('change', () => {
      rotations++;
      if (rotations === 100) {
        at100 = mb();
        started = performance.now();
      }
      if (rotations === 1000) resolve();
    });
  });
  const rate = 900 / ((performance.now() - started) / 1000);
  const at1000 = mb();
  stream.close();
  await agent.stop();
  process.stdout.write(`${JSON.stringify({ atStart, at100, at1000, rate })}\n`);
  process.exit(0);
}

if (process.argv.includes('--rss-child') && import.meta.url === pathToFileURL(process.argv[1]!).href) await rssChild();
else if (import.meta.url === pathToFileURL(process.argv[1]!).href) console.log(JSON.stringify(await benchAgent(), null, 2));

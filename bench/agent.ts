import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../src/common/log.js';
import type { ControlPlane } from '../src/controlplane/start.js';
import { mintLocalToken } from '../src/ca/auth/local-issuer.js';
import { buildCsrPem } from '../src/pki/csr-build.js';
import { generateKeyPair } from '../src/pki/keys.js';
import { startAgent, fetchOnce } from '../src/agent/agent.js';
import type { AgentConfig } from '../src/agent/config.js';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from '../src/agent/sds-protos.js';
import type { Timers } from '../src/agent/timers.js';
import { defaultOverrides } from '../src/injector/annotations.js';
import { injectorConfig } from '../src/injector/config.js';
import { renderSidecar } from '../src/injector/render.js';
import type { Figure } from './figures.js';

const NEVER_MS = 3_600_000;
const MEMORY_GOAL_MB = 60;
const ROTATIONS = 1_000;
const RSS_MARKS = [1, 100, 500, ROTATIONS];
const START_RUNS = 7;

async function config(cp: ControlPlane, sa: string): Promise<AgentConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'mib-'));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, await mintLocalToken({ dataDir: cp.dataDir, namespace: 'bench', serviceAccount: sa }));
  return {
    caUrl: cp.caUrl, caRootFile: cp.trustBundlePath, tokenFile, namespace: 'bench', serviceAccount: sa, trustDomain: 'cluster.local',
    keyAlgorithm: 'ec-p256', sdsSocket: join(dir, 'sds.sock'), workloadSocket: join(dir, 'workload.sock'), statusPort: 0, healthPort: 0, listenHost: '127.0.0.1',
    envoyConfigPath: join(dir, 'envoy.json'), bundlePollMs: NEVER_MS,
  };
}

/** An SDS client that ACKs every response, as Envoy does, and hands them out in order. */
function openStream(socket: string): { next(): Promise<DiscoveryResponse>; send(r: DiscoveryRequest): void; close(): void } {
  const Client = grpc.makeGenericClientConstructor(sdsProtos().service, 'SDS');
  const client = new Client(`unix://${socket}`, grpc.credentials.createInsecure());
  const call = (client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamSecrets();
  const queue: DiscoveryResponse[] = [];
  const waiters: Array<(r: DiscoveryResponse) => void> = [];
  let names: string[] = [];
  const send = (r: DiscoveryRequest) => {
    names = r.resource_names ?? names;
    call.write({ type_url: SECRET_TYPE_URL, ...r });
  };
  call.on('data', (r: DiscoveryResponse) => {
    send({ resource_names: names, response_nonce: r.nonce, version_info: r.version_info });
    if (waiters.length) waiters.shift()!(r);
    else queue.push(r);
  });
  call.on('error', () => undefined);
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
    send,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchAgent(): Promise<Figure[]> {
  const t0 = performance.now();
  sdsProtos();
  const protoLoadMs = performance.now() - t0;
  // Imported here: loading the control plane is not part of the proto-load figure above.
  const { startControlPlane } = await import('../src/controlplane/start.js');
  const cp = await startControlPlane({ dataDir: await mkdtemp(join(tmpdir(), 'mib-ca-')), local: true, caPort: 0, istioCaPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger });
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
    const startMs = median(starts);
    return [
      { name: 'agent start to first `default` over SDS, local CA (median of 10)', value: startMs, unit: 'ms', ceiling: 150, note: `goal < 150 ms; floor in this run: key+CSR ${median(keyCsr).toFixed(2)} ms, whole CA fetch (token, key, CSR, HTTPS, verify) ${median(fetches).toFixed(1)} ms; SDS types built once per process ${protoLoadMs.toFixed(0)} ms, not included` },
      { name: 'SDS push latency, new SVID installed to the client seeing it (median of 50)', value: push.pushMs, unit: 'ms', ceiling: median(keyCsr), ratio: push.pushMs / median(keyCsr), note: 'ceiling: one key generation + CSR in this run' },
      { name: 'renewal trigger to the client seeing the new SVID (median of 50)', value: push.renewalMs, unit: 'ms', ceiling: median(fetches), note: 'ceiling: a whole CA fetch in this run' },
      ...(await memoryFigures(cp)),
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

/**
 * `meshid agent` as a pod runs it: the command and static env (NODE_OPTIONS) the injector renders for
 * the proxy container, against the local CA, with 10 s certificates renewed as soon as they arrive
 * (Istio's SECRET_GRACE_PERIOD_RATIO close to 1). Its RSS is read from /proc, as the kubelet sees it;
 * each figure is next to the same agent without the rendered NODE_OPTIONS, run alongside.
 */
async function memoryFigures(cp: ControlPlane): Promise<Figure[]> {
  const proxy = renderSidecar(defaultOverrides(injectorConfig()), injectorConfig(), {}).proxy;
  const podEnv: Record<string, string> = {};
  for (const e of (proxy.env ?? []) as Array<{ name: string; value?: string }>) if (e.value !== undefined) podEnv[e.name] = e.value;
  const plainEnv = { ...podEnv, NODE_OPTIONS: '' };
  const flags = `NODE_OPTIONS="${podEnv.NODE_OPTIONS ?? ''}"`;
  const bare = await bareNodeRss('');
  const bareFlags = await bareNodeRss(podEnv.NODE_OPTIONS ?? '');
  const starts: Record<'pod' | 'plain' | 'bare', number[]> = { pod: [], plain: [], bare: [] };
  for (let i = 0; i < START_RUNS; i++) {
    starts.pod.push((await agentProcess(cp, `start-pod${i}`, podEnv, 1)).startMs);
    starts.plain.push((await agentProcess(cp, `start-plain${i}`, plainEnv, 1)).startMs);
    starts.bare.push(await bareNodeStart(podEnv.NODE_OPTIONS ?? ''));
  }
  const asPod = await agentProcess(cp, 'rss-pod', podEnv, ROTATIONS);
  const plain = await agentProcess(cp, 'rss-plain', plainEnv, ROTATIONS);
  const at = (run: AgentRun, n: number) => run.rss.get(n)!;
  const growth = (run: AgentRun) => ((at(run, ROTATIONS).rss - at(run, 100).rss) / (ROTATIONS - 100)) * 100;
  const last = at(asPod, ROTATIONS);
  return [
    { name: 'bare `node -e` process RSS, this machine (reference)', value: bare.rss, unit: 'MB', ceiling: MEMORY_GOAL_MB, note: `${bare.file.toFixed(1)} MB of it the node binary and libraries mapped from disk; with the agent's ${flags}: ${bareFlags.rss.toFixed(1)} MB` },
    ...RSS_MARKS.map((n) => ({
      name: `\`meshid agent\` process RSS after rotation ${n.toLocaleString('en-US')}, as the pod runs it`,
      value: at(asPod, n).rss, unit: 'MB', ceiling: MEMORY_GOAL_MB,
      note: `goal < ${MEMORY_GOAL_MB} MB; ${flags}; without them ${at(plain, n).rss.toFixed(1)} MB${n === ROTATIONS ? `; ${last.anon.toFixed(1)} MB private, ${last.file.toFixed(1)} MB mapped from disk (bare node ${bare.anon.toFixed(1)} / ${bare.file.toFixed(1)})` : ''}`,
    })),
    { name: 'agent RSS growth per 100 rotations, rotation 100 to 1,000', value: growth(asPod), unit: 'MB', note: `goal: none; without the flags ${growth(plain).toFixed(2)} MB per 100` },
    {
      name: `agent process start to first \`default\` over SDS, as the pod runs it (median of ${START_RUNS})`, value: median(starts.pod), unit: 'ms', ceiling: median(starts.bare),
      note: `goal < 150 ms, not met; ceiling: a bare node with the same ${flags}, spawn to listening on a Unix socket (the runtime's own start); the agent without the flags ${median(starts.plain).toFixed(0)} ms`,
    },
    ...(await xdsFigures(cp, podEnv, flags)),
    { name: 'rotation as the pod runs it: renewal due to the client seeing the new SVID (median of 900)', value: asPod.rotationMs, unit: 'ms', ceiling: plain.rotationMs, note: `ceiling: the same without ${flags}; fetch, verify, SDS push and file write, CA in this process` },
  ];
}

interface Rss {
  rss: number;
  /** Private (anonymous) memory: the process's own. */
  anon: number;
  /** Mapped from disk (node binary, libraries): shared with every process that maps the same files. */
  file: number;
}

interface AgentRun {
  startMs: number;
  rotationMs: number;
  /** After the rotations in RSS_MARKS. */
  rss: Map<number, Rss>;
}

async function agentProcess(cp: ControlPlane, sa: string, podEnv: Record<string, string>, rotations: number): Promise<AgentRun> {
  const c = await config(cp, sa);
  const main = fileURLToPath(new URL('../bin/meshid.mjs', import.meta.url));
  const args = [
    '--ca-addr', c.caUrl, '--ca-root', c.caRootFile, '--token-file', c.tokenFile, '--namespace', c.namespace,
    '--service-account', c.serviceAccount, '--sds-socket', c.sdsSocket, '--workload-socket', c.workloadSocket, '--out-dir', join(c.sdsSocket, '..', 'out'),
    '--status-port', '0', '--health-port', '0', '--cert-ttl', '10s',
  ];
  const env = { ...process.env, ...podEnv, SECRET_GRACE_PERIOD_RATIO: '0.9999', MESHID_LOG_LEVEL: 'warn' };
  const started = performance.now();
  const child = spawn(process.execPath, [main, 'agent', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const failed = (what: string) => new Error(`meshid agent ${what}; its stderr: ${stderr.trim() || '(empty)'}`);
  try {
    while (!(await access(c.sdsSocket).then(() => true, () => false))) {
      if (child.exitCode !== null) throw failed(`exited ${child.exitCode} before serving SDS`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const stream = openStream(c.sdsSocket);
    stream.send({ resource_names: ['default', 'ROOTCA'] });
    const rss = new Map<number, Rss>();
    const intervals: number[] = [];
    let startMs = 0;
    let last = 0;
    for (let n = 0; n < rotations; ) {
      const r = await stream.next();
      if (sdsProtos().decodeSecret(r.resources[0]!.value).name !== 'default') continue;
      const now = performance.now();
      if (++n === 1) startMs = now - started;
      else if (n > 100) intervals.push(now - last);
      last = now;
      if (RSS_MARKS.includes(n)) rss.set(n, await rssOf(child));
    }
    stream.close();
    return { startMs, rotationMs: intervals.length ? median(intervals) : NaN, rss };
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw failed(`exited ${code} after SIGTERM`);
  }
}

/**
 * An agent whose Envoy has asked for its listeners and clusters (the config types loaded, the resources built and
 * held), with 1 and with 10,000 meshed destinations, as a separate process (bench/xds-agent-child.ts) whose RSS
 * is read from /proc.
 */
async function xdsFigures(cp: ControlPlane, podEnv: Record<string, string>, flags: string): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const n of [1, 10_000]) {
    const c = await config(cp, `xds${n}`);
    const file = join(c.sdsSocket, '..', 'config.json');
    await writeFile(file, JSON.stringify(c));
    const child = spawn(process.execPath, [fileURLToPath(new URL('./xds-agent-child.js', import.meta.url)), file, String(n)], { env: { ...process.env, ...podEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`the xDS bench agent exited ${code}`)));
    });
    const r = JSON.parse(line) as { ms: number; updateMs: number; ldsBytes: number; cdsBytes: number };
    await new Promise((res) => setTimeout(res, 300));
    const rss = await rssOf(child);
    child.kill();
    figures.push(
      { name: `agent RSS with Envoy's LDS/CDS served, ${n.toLocaleString('en-US')} meshed destination${n > 1 ? 's' : ''}, as the pod runs it`, value: rss.rss, unit: 'MB', ceiling: MEMORY_GOAL_MB, note: `goal < ${MEMORY_GOAL_MB} MB; ${flags}; ${rss.anon.toFixed(1)} MB private; LDS ${(r.ldsBytes / 1e6).toFixed(2)} MB, CDS ${(r.cdsBytes / 1e6).toFixed(2)} MB` },
      { name: `Envoy asks to LDS and CDS answered, ${n.toLocaleString('en-US')} destination${n > 1 ? 's' : ''} (config types loaded on that first ask)`, value: r.ms, unit: 'ms', ceiling: 2000, note: 'ceiling: the 2 s a change has to reach Envoy' },
      { name: `one destination added to ${n.toLocaleString('en-US')}: plan change to new LDS and CDS responses`, value: r.updateMs, unit: 'ms', ceiling: 2000, note: 'ceiling: the 2 s a change has to reach Envoy; unchanged clusters reuse their bytes, the listener is encoded again' },
    );
  }
  return figures;
}

/** Spawn to a Unix socket listening, for a node process that does nothing else: the floor under any agent start. */
async function bareNodeStart(nodeOptions: string): Promise<number> {
  const socket = join(await mkdtemp(join(tmpdir(), 'mib-bare-')), 's.sock');
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)})`], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, stdio: 'ignore' });
  while (!(await access(socket).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - started;
  child.kill();
  return ms;
}

/** A bare node process, idle, with the given NODE_OPTIONS: what any Node.js program starts from. */
async function bareNodeRss(nodeOptions: string): Promise<Rss> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const rss = await rssOf(child);
  child.kill();
  return rss;
}

async function rssOf(child: ChildProcess): Promise<Rss> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  return { rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile') + mb('RssShmem') };
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) console.log(JSON.stringify(await benchAgent(), null, 2));

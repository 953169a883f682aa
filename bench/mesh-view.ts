import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import { fastify } from 'fastify';
import { registerViewApi, VIEW_PATH, type ViewProvider } from '../src/ca/view-api.js';
import type { TokenVerifier } from '../src/ca/auth/verifier.js';
import { installErrorHandling } from '../src/common/http-errors.js';
import { silentLogger } from '../src/common/log.js';
import { podFromObject, serviceFromObject, sliceFromObject } from '../src/mesh/convert.js';
import { validatePolicyObject } from '../src/policy/validate.js';
import { MeshState } from '../src/mesh/state.js';
import { podObject, policyObject, serviceObject, sliceObject } from '../test/helpers/mesh-objects.js';
import type { Figure } from './figures.js';

const PODS = 10_000;
const NAMESPACES = 100;
const PODS_PER_SERVICE = 10;
const AGENTS = 1_000;
const POD_EVENTS = 2_000;

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const nsOf = (i: number) => `ns-${i % NAMESPACES}`;

/** A 10,000-pod mesh: every pod injected, one Service (ClusterIP, EndpointSlice) per 10 pods. */
function buildMesh(): MeshState {
  const s = new MeshState({ trustDomain: 'cluster.local', rootNamespace: 'meshid-system', epoch: 'bench' });
  for (let i = 0; i < PODS; i++) {
    const svc = `svc-${Math.floor(i / NAMESPACES / PODS_PER_SERVICE)}`;
    s.upsertPod(podFromObject(podObject(nsOf(i), `pod-${i}`, { sa: svc, ips: [ip(i + 1)], labels: { app: svc } }))!);
  }
  for (let n = 0; n < NAMESPACES; n++) {
    for (let k = 0; k < PODS / NAMESPACES / PODS_PER_SERVICE; k++) {
      const ns = `ns-${n}`;
      const members = Array.from({ length: PODS_PER_SERVICE }, (_, j) => n + NAMESPACES * (k * PODS_PER_SERVICE + j));
      s.upsertService(serviceFromObject(serviceObject(ns, `svc-${k}`, { clusterIPs: [`10.96.${n}.${k}`], selector: { app: `svc-${k}` } }))!);
      s.upsertSlice(sliceFromObject(sliceObject(ns, `svc-${k}`, members.map((i) => ({ pod: `pod-${i}`, ip: ip(i + 1) }))))!);
    }
  }
  return s;
}

/** Accepts `<namespace>/<pod>` as the token: the bench measures delivery, not token verification (see bench/ca.ts). */
const benchVerifier: TokenVerifier = {
  async verify(token) {
    const [namespace, pod] = token.split('/');
    return { namespace: namespace!, serviceAccount: '', pod: { name: pod!, uid: `uid-${namespace}-${pod}` }, expiresAt: 0 };
  },
};

function get(port: number, agent: Agent, token: string, since?: string): Promise<{ status: number; body: string }> {
  const path = `${VIEW_PATH}?pod=${token.split('/')[1]}${since ? `&since=${encodeURIComponent(since)}` : ''}`;
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end();
  });
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export async function benchMeshView(): Promise<Figure[]> {
  const built = performance.now();
  const state = buildMesh();
  const buildMs = performance.now() - built;

  // Bytes to one agent: its full view, then the delta when one pod starts.
  const full = JSON.stringify(state.update('ns-0', 'pod-0', undefined));
  const version = state.version;
  state.upsertPod(podFromObject(podObject('ns-7', 'new-pod', { sa: 'svc-0', ips: ['10.200.0.1'] }))!);
  const delta = JSON.stringify(state.update('ns-0', 'pod-0', version));

  // Control plane CPU per pod event (conversion from the API object and the incremental update), pods starting and stopping.
  const objects = Array.from({ length: POD_EVENTS }, (_, i) => podObject(nsOf(i), `churn-${i}`, { sa: 'svc-0', ips: [`10.201.${i >> 8}.${i & 255}`] }));
  const cpu0 = process.cpuUsage();
  for (const o of objects) state.upsertPod(podFromObject(o)!);
  for (const o of objects) state.deletePod(o.metadata.namespace, o.metadata.name);
  const cpu = process.cpuUsage(cpu0);
  const cpuPerEventUs = (cpu.user + cpu.system) / (2 * POD_EVENTS);

  // A policy change to 1,000 agents waiting in long-polls over real HTTP.
  const app = fastify({ logger: false });
  installErrorHandling(app, silentLogger);
  const provider: ViewProvider = { ready: () => true, pod: (ns, n) => state.pod(ns, n), update: (ns, n, since) => state.update(ns, n, since), onChange: (l) => state.onChange(l) };
  registerViewApi(app, { views: provider, verifier: benchVerifier });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    const tokens = Array.from({ length: AGENTS }, (_, i) => `${nsOf(i)}/pod-${i}`);
    const versions = new Map<string, string>();
    // Each agent holds the current full view (its bytes are measured above); fetching 1,000 of them here would only take time.
    for (const t of tokens) versions.set(t, state.version);
    const runs: number[][] = [];
    const fanOut: number[] = [];
    let deltaBytes = 0;
    for (let run = 0; run < 3; run++) {
      let changedAt = 0;
      const arrived: number[] = [];
      const polls = tokens.map(async (t) => {
        const r = await get(port, agent, t, versions.get(t));
        arrived.push(performance.now() - changedAt);
        const u = JSON.parse(r.body);
        if (!u.authorizationPolicies) throw new Error(`agent ${t} got no policy change: ${r.status} ${r.body.slice(0, 200)}`);
        deltaBytes = r.body.length;
        versions.set(t, u.version);
      });
      await new Promise((r) => setTimeout(r, 500));
      const checked = validatePolicyObject(policyObject('AuthorizationPolicy', 'meshid-system', 'mesh-deny', { action: 'DENY', rules: [{ from: [{ source: { namespaces: [`blocked-${run}`] } }] }] }));
      if (!checked.ok) throw new Error(checked.errors.join('; '));
      changedAt = performance.now();
      state.upsertPolicy('AuthorizationPolicy', checked.policy.object as never);
      fanOut.push(performance.now() - changedAt);
      await Promise.all(polls);
      runs.push(arrived);
    }
    const all = runs.flat();
    return [
      { name: 'bytes to one agent when one pod starts (10,000-pod mesh)', value: delta.length, unit: 'B', ceiling: full.length, note: `the full view is ${(full.length / 1024).toFixed(0)} KB, ${state.destinations().length} destinations; ratio = delta / full` },
      { name: 'control plane CPU per pod event (10,000-pod mesh)', value: cpuPerEventUs, unit: 'µs', note: `${2 * POD_EVENTS} start/stop events, API object to per-agent deltas recorded; building the mesh took ${buildMs.toFixed(0)} ms` },
      { name: `policy change to ${AGENTS} long-polling agents, p50`, value: percentile(all, 50), unit: 'ms', note: `3 runs, plain HTTP on loopback, clients in the same process; ${deltaBytes} B each; load average ${loadavg()[0]!.toFixed(1)}` },
      { name: `policy change to ${AGENTS} long-polling agents, p99`, value: percentile(all, 99), unit: 'ms', note: `slowest ${Math.max(...all).toFixed(0)} ms; the state update's part ${fanOut.map((x) => x.toFixed(0)).join('/')} ms` },
    ];
  } finally {
    agent.destroy();
    await app.close();
  }
}

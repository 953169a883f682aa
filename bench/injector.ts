import type { Figure } from './figures.js';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { silentLogger } from '../src/common/log.js';
import { admit, parseReview } from '../src/injector/admission.js';
import { injectorConfig } from '../src/injector/config.js';
import { registerInjector } from '../src/injector/webhook.js';
import { selfSign, signCertificate, signerFor, subjectKeyOf } from '../src/pki/certificate.js';
import { generateKeyPair, privateKeyPem } from '../src/pki/keys.js';
import { encodePem } from '../src/pki/pem.js';
import { rootCaTemplate, serialFrom, servingTemplate } from '../src/pki/templates.js';

type BenchResult = Figure;

const CONCURRENCY = 8;
const WARMUP_MS = 300;
const RUN_MS = 3000;
const SLICES = 10;
const MAX_REQUESTS = 50_000;

/**
 * Webhook throughput next to a bare fastify HTTPS server answering the same body (so TLS, HTTP and
 * JSON costs cancel out in the ratio), and the cost of injecting one very large pod.
 */
export async function benchInjector(): Promise<BenchResult[]> {
  const tls = servingMaterial();
  const config = injectorConfig();
  const body = JSON.stringify(review(typicalPod()));
  const answer = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: admit(parseReview(JSON.parse(body)), config).response });

  const injector = Fastify({ https: { cert: tls.certPem, key: tls.keyPem }, logger: false });
  registerInjector(injector, { config, registry: new Registry(), logger: silentLogger });
  const bare = Fastify({ https: { cert: tls.certPem, key: tls.keyPem }, logger: false, bodyLimit: 8 * 1024 * 1024 });
  bare.post('/inject', async (_req, reply) => reply.type('application/json').send(answer));

  const results: BenchResult[] = [];
  try {
    const injectorPort = await listen(injector);
    const barePort = await listen(bare);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: tls.caPem });
    try {
      // Short alternating slices: the machine is shared, so both servers must see the same noise.
      const totals = { injector: { n: 0, ms: 0, lat: [] as number[] }, bare: { n: 0, ms: 0, lat: [] as number[] } };
      await load(agent, barePort, body, WARMUP_MS);
      await load(agent, injectorPort, body, WARMUP_MS);
      for (let slice = 0; slice < SLICES; slice++) {
        for (const [name, port] of [['bare', barePort], ['injector', injectorPort]] as const) {
          const r = await load(agent, port, body, RUN_MS / SLICES);
          totals[name].n += r.lat.length;
          totals[name].ms += r.ms;
          totals[name].lat.push(...r.lat);
        }
      }
      const rps = (k: 'injector' | 'bare') => (totals[k].n * 1000) / totals[k].ms;
      const ratio = rps('injector') / rps('bare');
      results.push(
        { name: 'injector AdmissionReviews/s (HTTPS keep-alive, typical pod)', value: round(rps('injector')), unit: 'req/s', ratio: round(ratio, 2), note: `vs bare fastify HTTPS same body ${round(rps('bare'))} req/s; goal ratio >= 0.6; concurrency ${CONCURRENCY}` },
        { name: 'bare fastify HTTPS, same body', value: round(rps('bare')), unit: 'req/s' },
        { name: 'injector latency p50', value: round(percentile(totals.injector.lat, 0.5), 3), unit: 'ms', note: `bare p50 ${round(percentile(totals.bare.lat, 0.5), 3)} ms` },
        { name: 'injector latency p99', value: round(percentile(totals.injector.lat, 0.99), 3), unit: 'ms', note: `bare p99 ${round(percentile(totals.bare.lat, 0.99), 3)} ms` },
      );
    } finally {
      agent.destroy();
    }
  } finally {
    await injector.close();
    await bare.close();
  }
  results.push(...bigPod(config));
  return results;
}

/** 20 containers × 1,500 env vars: Istio took about 1 s for such a pod before its fix. */
function bigPod(config: ReturnType<typeof injectorConfig>): BenchResult[] {
  const pod = typicalPod();
  pod.spec.containers = Array.from({ length: 20 }, (_, c) => ({
    name: `c${c}`,
    image: 'app:1',
    ports: [{ name: 'http', containerPort: 8080 + c }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
    env: Array.from({ length: 1500 }, (_, i) => ({ name: `VAR_${c}_${i}`, value: `value-${i}-${'x'.repeat(16)}` })),
  }));
  const req = parseReview(review(pod));
  const times: number[] = [];
  let patchBytes = 0;
  for (let i = 0; i < 25; i++) {
    const t0 = performance.now();
    const { response } = admit(req, config);
    const t = performance.now() - t0;
    if (i >= 5) times.push(t);
    patchBytes = Buffer.from(response.patch ?? '', 'base64').length;
  }
  const median = percentile(times, 0.5);
  return [
    { name: 'inject one pod, 20 containers x 1,500 env vars (median of 20)', value: round(median, 2), unit: 'ms', ceiling: 20, ratio: round(median / 20, 3), note: `max ${round(Math.max(...times), 2)} ms; goal < 20 ms` },
    { name: 'patch size for that pod', value: patchBytes, unit: 'bytes', note: 'JSON Patch before base64; env lists are not copied' },
  ];
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

/** Closed-loop load: CONCURRENCY requests in flight, bounded by time and by count. */
async function load(agent: Agent, port: number, body: string, ms: number): Promise<{ ms: number; lat: number[] }> {
  const lat: number[] = [];
  const start = performance.now();
  const end = start + ms;
  let sent = 0;
  const worker = async () => {
    while (performance.now() < end && sent < MAX_REQUESTS) {
      sent++;
      const t0 = performance.now();
      await post(agent, port, body);
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ms: performance.now() - start, lat };
}

function post(agent: Agent, port: number, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: '/inject', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  const s = [...sorted].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
}

const round = (v: number, digits = 0) => Number(v.toFixed(digits));

function review(pod: unknown): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'apps',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      dryRun: false,
    },
  };
}

function typicalPod(): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-7d9f8c-', namespace: 'apps', labels: { app: 'web', 'pod-template-hash': '7d9f8c' } },
    spec: {
      serviceAccountName: 'web',
      containers: [{
        name: 'web', image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
        livenessProbe: { tcpSocket: { port: 8080 } },
        env: [{ name: 'MODE', value: 'prod' }],
        resources: { requests: { cpu: '100m', memory: '64Mi' } },
      }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}

function servingMaterial(): { caPem: string; certPem: string; keyPem: string } {
  const now = Date.now();
  const root = generateKeyPair();
  const rootDer = selfSign(rootCaTemplate({ now, ttlMs: 3_600_000, serial: serialFrom(randomBytes(16)), trustDomain: 'bench.local', label: 'bench' }), root.privateKey, root.publicKey);
  const leaf = generateKeyPair();
  const leafDer = signCertificate(
    servingTemplate({ now, ttlMs: 3_000_000, serial: serialFrom(randomBytes(16)), dnsNames: ['localhost'], ips: ['127.0.0.1'], rsaKey: false, issuerNotAfter: now + 3_600_000 }),
    subjectKeyOf(leaf.publicKey),
    signerFor(rootDer, root.privateKey),
  );
  return { caPem: encodePem('CERTIFICATE', rootDer), certPem: encodePem('CERTIFICATE', leafDer), keyPem: privateKeyPem(leaf.privateKey) };
}

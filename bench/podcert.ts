import { buildCsrPem } from '../src/pki/csr-build.js';
import { generateKeyPair } from '../src/pki/keys.js';
import { type FakeCluster, startFakeCluster, startReplica } from '../test/helpers/fake-cluster.js';
import { requestBody } from '../test/helpers/kubelet-podcert.js';
import type { Figure } from './figures.js';
import { burstLoad, issuanceRequest, percentile } from './https-load.js';

const REQUESTS = Number(process.env.MESHID_BENCH_PODCERTS ?? 10_000);
const SERVICE_ACCOUNTS = 50;
/** The REST burst: as many in flight as in ca-burst, fresh TLS connections. */
const REST_CONCURRENCY = 500;

/**
 * 10,000 PodCertificateRequests appear at once (a node pool scaling up, or every pod's refresh coming due)
 * and the leader answers them all, each with one status write; timed from the first create to the last
 * answer. Next to it, the same control plane's REST API answering 10,000 CSRs at once. Both run in this
 * one process with the fake API server, so their figures compare with each other, not with ca-burst's.
 */
export async function benchPodCertificates(): Promise<Figure[]> {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  try {
    const cluster = await startFakeCluster(scope);
    const cp = await startReplica(scope, cluster.fake, { identity: 'meshid-0', maxWorkloadCertTtlMs: 86_400_000 });
    const bodies = Array.from({ length: REQUESTS }, (_, i) => requestBody({ namespace: 'shop', name: `pod-${i}`, serviceAccount: `sa-${i % SERVICE_ACCOUNTS}` }));
    while (!cp.isLeader() || !cluster.fake.calls.some((c) => c.resource === 'podcertificaterequests' && c.verb === 'watch')) await sleep(20);

    const started = performance.now();
    for (const b of bodies) cluster.fake.put('podcertificaterequests', b as never);
    while (cluster.fake.statusWrites.size < REQUESTS) {
      if (performance.now() - started > 300_000) throw new Error(`only ${cluster.fake.statusWrites.size} of ${REQUESTS} answered in 300 s`);
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    const issued = cluster.fake.list('podcertificaterequests', 'shop').filter((r) => (r.status as { conditions?: Array<{ type: string }> }).conditions?.[0]?.type === 'Issued').length;
    const twice = [...cluster.fake.statusWrites.values()].filter((n) => n !== 1).length;
    if (issued !== REQUESTS || twice > 0) throw new Error(`${issued} of ${REQUESTS} issued, ${twice} answered more than once`);
    const podcertRate = REQUESTS / seconds;

    const rest = await restBurst(cluster, cp.caUrl);
    return [
      {
        name: `${REQUESTS.toLocaleString('en-US')} PodCertificateRequests at once, all answered (status writes to the fake API)`, value: podcertRate, unit: 'certs/s',
        ceiling: rest.rate, ratio: podcertRate / rest.rate,
        note: `${seconds.toFixed(1)} s from the first request to the last answer, ${issued} issued, each exactly once; ceiling: the REST API on the same control plane`,
      },
      {
        name: `REST API, ${REQUESTS.toLocaleString('en-US')} CSRs at once to the same control plane (HTTPS, ${REST_CONCURRENCY} fresh connections in flight)`, value: rest.rate, unit: 'certs/s',
        note: `p50 ${rest.p50.toFixed(0)} ms, p99 ${rest.p99.toFixed(0)} ms, ${rest.errors} errors`,
      },
    ];
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

async function restBurst(cluster: FakeCluster, caUrl: string): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  const tokens = await Promise.all(Array.from({ length: SERVICE_ACCOUNTS }, (_, i) => cluster.token({ namespace: 'shop', serviceAccount: `sa-${i}` })));
  const requests = Array.from({ length: REQUESTS }, (_, i) => {
    const key = generateKeyPair('ec-p256');
    return issuanceRequest(tokens[i % SERVICE_ACCOUNTS]!, buildCsrPem(key.privateKey, key.publicKey, `spiffe://cluster.local/ns/shop/sa/sa-${i % SERVICE_ACCOUNTS}`), true);
  });
  const load = await burstLoad({ port: Number(new URL(caUrl).port) }, requests, REST_CONCURRENCY);
  const latencies = [...load.latenciesMs].sort((a, b) => a - b);
  return { rate: load.requests / load.seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), errors: load.errors };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

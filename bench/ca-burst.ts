import { rawCryptoFor } from './ca-ceiling.js';
import { cachedFixture, cpuSeconds, rssMb, scrapeGauge, startBare, startServe, type CaFixture } from './ca-fixture.js';
import { median, type Figure } from './figures.js';
import { burstLoad, exchangeOnce, issuanceRequest, keepAliveLoad, percentile, type LoadResult } from './https-load.js';

const WORKLOADS = 10_000;
/** In flight at once, each on its own fresh TLS connection: a fleet of pods all renewing, not 16 busy clients. */
const CONCURRENCY = 500;
const WARMUP_MS = 2000;
const WARMUP_CONNECTIONS = 1000;
const CEILING_CPU_MS = 500;

interface BurstRun {
  burst: LoadResult;
  serverCpu: number;
  clientCpu: number;
  /** Raw crypto of one issuance, per second of one core. */
  ceiling: number;
  idleRss: number;
  peakRss: number;
  lagMaxMs: number;
  reachable: { perCpuSecond: number; floorMicros: number };
  cached: boolean;
}

/**
 * The load a root rotation or a control plane restart causes: 10,000 workloads, each with its own
 * token and CSR (made before the clock starts, cached between runs), ask at once, 500 at a time,
 * each on a new TLS connection. Time to serve all is set against 10,000 times the raw crypto of
 * one issuance on one core; latency against what an ideal one-core server at that crypto rate
 * would give 500 waiting clients.
 */
export async function benchCaBurst(): Promise<Figure[]> {
  // Workloads past the first 10,000 only warm the server up, so each burst token is used once, in the burst.
  const fixture = await cachedFixture('burst', 'ec-p256', WORKLOADS + WARMUP_CONNECTIONS);
  const crypto = await rawCryptoFor(fixture);
  const fresh = (from: number, to: number) => fixture.tokens.slice(from, to).map((t, i) => issuanceRequest(t, fixture.csrs[from + i]!, true));
  const warmupKeepAlive = fixture.tokens.slice(WORKLOADS).map((t, i) => issuanceRequest(t, fixture.csrs[WORKLOADS + i]!));
  const server = await startServe(fixture.dataDir);
  const pid = server.child.pid!;
  try {
    const target = { port: server.caPort };
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = rssMb(pid);
    // A running control plane, not a cold one: JIT warm-up of the issuance and connection paths is not what a burst measures.
    await keepAliveLoad(target, warmupKeepAlive, 16, WARMUP_MS);
    await burstLoad(target, fresh(WORKLOADS, WORKLOADS + WARMUP_CONNECTIONS), 100);
    const ceiling = median([crypto.perCpuSecond(CEILING_CPU_MS), crypto.perCpuSecond(CEILING_CPU_MS), crypto.perCpuSecond(CEILING_CPU_MS)]);

    await scrapeGauge(server.monitoringUrl, 'nodejs_eventloop_lag_max_seconds');
    let peakRss = 0;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(pid)); }, 50);
    const cpu0 = cpuSeconds(pid);
    const client0 = process.cpuUsage();
    const burst = await burstLoad(target, fresh(0, WORKLOADS), CONCURRENCY);
    const serverCpu = cpuSeconds(pid) - cpu0;
    const client = process.cpuUsage(client0);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssMb(pid));
    const lagMaxMs = 1000 * (await scrapeGauge(server.monitoringUrl, 'nodejs_eventloop_lag_max_seconds'));

    const sample = await exchangeOnce(target, warmupKeepAlive[0]!);
    const reachable = await bareBurst(fixture, sample.body, 1e6 / ceiling, fresh(WORKLOADS, WORKLOADS + WARMUP_CONNECTIONS));
    return burstFigures({
      burst, serverCpu, clientCpu: (client.user + client.system) / 1e6, ceiling, idleRss, peakRss, lagMaxMs, reachable, cached: fixture.cached,
    });
  } finally {
    await server.stop();
  }
}

/** The same shape of burst against bench/ca-bare-server.ts: what node, TLS and fastify leave reachable. */
async function bareBurst(fixture: CaFixture, body: string, spinMicros: number, requests: Buffer[]): Promise<BurstRun['reachable']> {
  const bare = await startBare(fixture, body);
  try {
    const target = { port: bare.port };
    await bare.setSpin(spinMicros);
    await burstLoad(target, requests, 100);
    const cpu0 = cpuSeconds(bare.child.pid!);
    const run = await burstLoad(target, requests, CONCURRENCY);
    if (run.errors > 0) throw new Error(`bare server burst: ${run.errors} failed, first: ${run.firstError}`);
    const micros = (1e6 * (cpuSeconds(bare.child.pid!) - cpu0)) / run.requests;
    return { perCpuSecond: 1e6 / micros, floorMicros: micros - spinMicros };
  } finally {
    await bare.stop();
  }
}

function burstFigures(r: BurstRun): Figure[] {
  const n = WORKLOADS.toLocaleString('en-US');
  const latencies = [...r.burst.latenciesMs].sort((a, b) => a - b);
  const idealSeconds = WORKLOADS / r.ceiling;
  const idealLatencyMs = (1000 * CONCURRENCY) / r.ceiling;
  const p50 = percentile(latencies, 0.5);
  const p99 = percentile(latencies, 0.99);
  return [
    {
      name: `burst: ${n} CSRs from as many tokens, time to serve all`, value: r.burst.seconds, unit: 's', ceiling: idealSeconds, ratio: idealSeconds / r.burst.seconds,
      note: `ceiling = ${n} x raw crypto of one issuance on one core (${(1e6 / r.ceiling).toFixed(0)} µs); ${CONCURRENCY} in flight, each on a new TLS connection; ` +
        `server core busy ${((100 * r.serverCpu) / r.burst.seconds).toFixed(0)}%, the load generator on the other core used ${r.clientCpu.toFixed(1)} s of CPU; ` +
        `workloads ${r.cached ? 'from the cache' : 'made for this run and cached'}`,
    },
    {
      name: 'burst: issuances per second of server CPU', value: r.burst.requests / r.serverCpu, unit: 'certs/s', ceiling: r.ceiling,
      note: `${((1e6 * r.serverCpu) / r.burst.requests).toFixed(0)} µs of server CPU per issuance, TLS handshake included`,
    },
    {
      name: 'reachable on this HTTPS stack: bare fastify, a busy-wait as long as the crypto, a new TLS connection each',
      value: r.reachable.perCpuSecond, unit: 'req/s of server CPU', ceiling: r.ceiling,
      note: `node + TLS + fastify alone: ${r.reachable.floorMicros.toFixed(0)} µs of server CPU per connection and request`,
    },
    { name: 'burst: latency p50', value: p50, unit: 'ms', ceiling: idealLatencyMs, ratio: idealLatencyMs / p50, note: `ceiling = ${CONCURRENCY} waiting clients x raw crypto time; handshake included` },
    { name: 'burst: latency p99', value: p99, unit: 'ms', ceiling: idealLatencyMs, ratio: idealLatencyMs / p99, note: `max ${latencies[latencies.length - 1]!.toFixed(0)} ms` },
    {
      name: 'burst: errors', value: r.burst.errors, unit: 'requests', ceiling: 0,
      note: `must be 0 of ${n}${r.burst.firstError ? `; first: ${r.burst.firstError.slice(0, 160)}` : ''}`,
    },
    { name: 'burst: server peak RSS', value: r.peakRss, unit: 'MB', ceiling: r.idleRss, note: 'ceiling = the same server idle, before warm-up' },
    { name: 'burst: server event-loop delay, max', value: r.lagMaxMs, unit: 'ms', ceiling: p50, note: 'ceiling = burst latency p50: a stall would stand out against it' },
  ];
}

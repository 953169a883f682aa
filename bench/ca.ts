import type { KeyAlgorithm } from '../src/pki/keys.js';
import { rawCryptoFor } from './ca-ceiling.js';
import { cpuSeconds, createFixture, rssMb, startBare, startServe } from './ca-fixture.js';
import { median, range, type Figure } from './figures.js';
import { exchangeOnce, issuanceRequest, keepAliveLoad, percentile, type LoadResult, type Target } from './https-load.js';

/** The keep-alive issuance load; the Istio CA bench runs the same shape, so its ratio to REST compares like with like. */
export const ISSUANCE_LOAD = { WORKLOADS: 500, CONNECTIONS: 16, WARMUP_MS: 3000, ROUNDS: 5, SLICE_MS: 1500, CEILING_CPU_MS: 500 } as const;
const { WORKLOADS, CONNECTIONS, WARMUP_MS, ROUNDS, SLICE_MS, CEILING_CPU_MS } = ISSUANCE_LOAD;

/**
 * Issuance over the full HTTPS path (`meshid serve --local` child, keep-alive connections, a
 * different token and CSR each request) next to the raw crypto one issuance needs on one core.
 * Rounds alternate a ceiling slice and load slices, so a noisy neighbour weighs on all alike;
 * each round gives one ratio and the figure is their median. The like-for-like figure is
 * issuances per second of the server's own CPU (all its threads), since the ceiling is per
 * CPU-second. A bare fastify server that answers the CA's bytes after busy-waiting for as long as
 * the crypto shows what this HTTPS stack leaves reachable at all.
 */
export async function benchCa(algs: KeyAlgorithm[] = ['ec-p256', 'rsa-2048']): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const alg of algs) {
    const fixture = await createFixture(alg, WORKLOADS);
    const crypto = await rawCryptoFor(fixture);
    const requests = fixture.tokens.map((t, i) => issuanceRequest(t, fixture.csrs[i]!));
    const server = await startServe(fixture.dataDir);
    const pid = server.child.pid!;
    try {
      const target = { port: server.caPort, ca: fixture.roots };
      await new Promise((r) => setTimeout(r, 500));
      const idleRss = rssMb(pid);
      const warm = await keepAliveLoad(target, requests, CONNECTIONS, WARMUP_MS);
      if (warm.errors > 0) throw new Error(`warm-up: ${warm.errors} failed requests, first: ${warm.firstError}`);
      const sample = await exchangeOnce(target, requests[0]!);
      if (sample.status !== 200) throw new Error(`the CA answered ${sample.status}: ${sample.body.slice(0, 300)}`);
      const bare = await startBare(fixture, sample.body);
      try {
        const bareTarget = { port: bare.port, ca: fixture.roots };
        const spin = 1e6 / crypto.perCpuSecond(CEILING_CPU_MS);
        await bare.setSpin(spin);
        await keepAliveLoad(bareTarget, requests, CONNECTIONS, WARMUP_MS);
        const rounds: Round[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const ceiling = crypto.perCpuSecond(CEILING_CPU_MS);
          rounds.push({ ceiling, ca: await slice(target, pid, requests), bare: await slice(bareTarget, bare.child.pid!, requests) });
        }
        figures.push(...throughputFigures(alg, rounds, spin), ...rssFigures(alg, idleRss, rssMb(pid, 'VmHWM')));
      } finally {
        await bare.stop();
      }
    } finally {
      await server.stop();
    }
  }
  return figures;
}

interface Slice {
  load: LoadResult;
  serverCpu: number;
}

interface Round {
  ceiling: number;
  ca: Slice;
  bare: Slice;
}

async function slice(target: Target, pid: number, requests: Buffer[]): Promise<Slice> {
  const cpu0 = cpuSeconds(pid);
  const load = await keepAliveLoad(target, requests, CONNECTIONS, SLICE_MS);
  return { load, serverCpu: cpuSeconds(pid) - cpu0 };
}

function throughputFigures(alg: string, rounds: Round[], spinMicros: number): Figure[] {
  const errors = rounds.reduce((n, r) => n + r.ca.load.errors + r.bare.load.errors, 0);
  const firstError = rounds.find((r) => r.ca.load.firstError)?.ca.load.firstError;
  const wall = (s: Slice) => s.load.requests / s.load.seconds;
  const perCpu = (s: Slice) => s.load.requests / s.serverCpu;
  const ceiling = median(rounds.map((r) => r.ceiling));
  const cpuRatios = rounds.map((r) => perCpu(r.ca) / r.ceiling);
  const bareRatios = rounds.map((r) => perCpu(r.bare) / r.ceiling);
  const latencies = rounds.flatMap((r) => r.ca.load.latenciesMs).sort((a, b) => a - b);
  const busy = median(rounds.map((r) => r.ca.serverCpu / r.ca.load.seconds));
  const floor = median(rounds.map((r) => 1e6 / perCpu(r.bare) - spinMicros));
  return [
    {
      name: `issuance over HTTPS, ${alg} CA (certs/s, wall clock)`, value: median(rounds.map((r) => wall(r.ca))), unit: 'certs/s', ceiling,
      ratio: median(rounds.map((r) => wall(r.ca) / r.ceiling)),
      note: `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ${errors} errors${firstError ? ` (${firstError.slice(0, 120)})` : ''}, ` +
        `server core busy ${(100 * busy).toFixed(0)}%, ${CONNECTIONS} keep-alive connections, median of ${ROUNDS} rounds`,
    },
    {
      name: `issuance per second of server CPU, ${alg} CA`, value: median(rounds.map((r) => perCpu(r.ca))), unit: 'certs/s', ceiling, ratio: median(cpuRatios),
      note: `per-round ratios ${range(cpuRatios)}; ${(1e6 * median(rounds.map((r) => 1 / perCpu(r.ca)))).toFixed(0)} µs of server CPU per issuance vs ${(1e6 / ceiling).toFixed(0)} µs of crypto; goal ratio >= 0.6`,
    },
    {
      name: `reachable on this HTTPS stack: bare fastify answering the same bytes after a busy-wait as long as the crypto, ${alg}`,
      value: median(rounds.map((r) => perCpu(r.bare))), unit: 'req/s of server CPU', ceiling, ratio: median(bareRatios),
      note: `node + TLS + fastify alone: ${floor.toFixed(0)} µs of server CPU per request; per-round ratios ${range(bareRatios)}`,
    },
  ];
}

function rssFigures(alg: string, idle: number, peak: number): Figure[] {
  return [
    { name: `control plane RSS idle, ${alg} CA`, value: idle, unit: 'MB', ceiling: 100, note: 'goal < 100 MB' },
    { name: `control plane peak RSS under load, ${alg} CA`, value: peak, unit: 'MB', note: 'VmHWM after the load' },
  ];
}

import { rawCryptoFor } from './ca-ceiling.js';
import { cachedFixture, cpuSeconds, rssMb, startServe } from './ca-fixture.js';
import { median, type Figure } from './figures.js';
import { Connection, issuanceRequest, percentile, secureContextFor, type Target } from './https-load.js';

/** `MESHID_BENCH_OVERLOAD_PODS` runs a smaller burst (a quick look on a busy machine); the figure is for 50,000. */
const PODS = Number(process.env.MESHID_BENCH_OVERLOAD_PODS ?? 50_000);
/** Distinct workloads in the fixture; pods past it reuse their tokens and CSRs, which the CA does not mind. */
const WORKLOADS = 10_000;
/** Connections open at once: far more than the limit, so the CA must shed. */
const CONNECTIONS = 2_000;
const LIMIT = 200;
const MAX_ATTEMPTS = 50;

interface PodResult {
  msToSvid: number;
  attempts: number;
  failed?: string;
}

/**
 * 50,000 pods ask at once, each on fresh TLS connections, against a CA whose in-flight limit is far below that:
 * the CA sheds with 429 + Retry-After, each pod waits 1-2x what it was asked (as the agent does) and asks again.
 * Every pod must end with its SVID; the figures are the time to SVID from the moment all asked.
 */
export async function benchCaOverload(): Promise<Figure[]> {
  const fixture = await cachedFixture('burst', 'ec-p256', WORKLOADS + 1000);
  const crypto = await rawCryptoFor(fixture);
  const requests = fixture.tokens.slice(0, WORKLOADS).map((t, i) => issuanceRequest(t, fixture.csrs[i]!, true));
  const server = await startServe(fixture.dataDir, ['--ca-max-in-flight', String(LIMIT)]);
  const pid = server.child.pid!;
  try {
    const target: Target = { port: server.caPort };
    const context = secureContextFor(target);
    let peakRss = 0;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(pid)); }, 100);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    let slots = CONNECTIONS;
    const waiting: Array<() => void> = [];
    const slot = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (slots === 0) await new Promise<void>((r) => waiting.push(r));
      else slots--;
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else slots++;
      }
    };
    let shed = 0;
    const pod = async (i: number): Promise<PodResult> => {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const res = await slot(async () => {
          const c = await Connection.open(target, context);
          try {
            return await c.exchange(requests[i % WORKLOADS]!);
          } finally {
            c.close();
          }
        }).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message), retryAfterS: 1 }));
        if (res.status === 200) return { msToSvid: performance.now() - t0, attempts: attempt };
        if (res.status !== 429 && res.status !== 0) return { msToSvid: performance.now() - t0, attempts: attempt, failed: `HTTP ${res.status}: ${res.body.toString('utf8', 0, 200)}` };
        if (res.status === 429) shed++;
        const askedMs = 1000 * (res.retryAfterS ?? 1);
        await new Promise((r) => setTimeout(r, askedMs * (1 + Math.random())));
      }
      return { msToSvid: performance.now() - t0, attempts: MAX_ATTEMPTS, failed: `no SVID after ${MAX_ATTEMPTS} attempts` };
    };
    const results = await Promise.all(Array.from({ length: PODS }, (_, i) => pod(i)));
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(pid) - cpu0;
    clearInterval(sampler);
    const ceiling = median([crypto.perCpuSecond(500), crypto.perCpuSecond(500), crypto.perCpuSecond(500)]);
    return overloadFigures(results, { seconds, serverCpu, shed, peakRss, ceiling });
  } finally {
    await server.stop();
  }
}

function overloadFigures(results: PodResult[], r: { seconds: number; serverCpu: number; shed: number; peakRss: number; ceiling: number }): Figure[] {
  const failed = results.filter((x) => x.failed);
  const times = results.filter((x) => !x.failed).map((x) => x.msToSvid).sort((a, b) => a - b);
  const idealSeconds = PODS / r.ceiling;
  const n = PODS.toLocaleString('en-US');
  return [
    {
      name: `overload: ${n} pods at once, limit ${LIMIT} in flight, time until every pod holds its SVID`, value: r.seconds, unit: 's', ceiling: idealSeconds, ratio: idealSeconds / r.seconds,
      note: `ceiling = ${n} x raw crypto of one issuance on one core; ${CONNECTIONS} connections open at once, each request on a new one; ${r.shed.toLocaleString('en-US')} answers were 429 (shed), ` +
        `${(results.reduce((a, x) => a + x.attempts, 0) / PODS).toFixed(2)} requests per pod; server CPU ${r.serverCpu.toFixed(1)} s`,
    },
    { name: 'overload: failed pods', value: failed.length, unit: 'pods', ceiling: 0, note: `must be 0 of ${n}${failed[0] ? `; first: ${failed[0].failed!.slice(0, 160)}` : ''}` },
    { name: 'overload: time to SVID p50', value: percentile(times, 0.5), unit: 'ms', ceiling: 1000 * idealSeconds, ratio: (1000 * idealSeconds) / percentile(times, 0.5), note: 'from the instant all pods asked; ceiling = the whole ideal burst' },
    { name: 'overload: time to SVID p99', value: percentile(times, 0.99), unit: 'ms', ceiling: 1000 * idealSeconds, ratio: (1000 * idealSeconds) / percentile(times, 0.99), note: `max ${times.length ? times[times.length - 1]!.toFixed(0) : '-'} ms` },
    { name: 'overload: server peak RSS', value: r.peakRss, unit: 'MB', ceiling: 200, note: 'ceiling = the goal for the control plane in a burst' },
  ];
}

import { FileCaStore } from '../src/ca/file-store.js';
import { loadCaMaterial } from '../src/ca/material.js';
import { loadLocalIssuer } from '../src/ca/auth/local-issuer.js';
import type { KeyAlgorithm } from '../src/pki/keys.js';
import { RawIssuanceCrypto } from './ca-ceiling.js';
import { cpuSeconds, createFixture, rssMb, startServe, type CaFixture } from './ca-fixture.js';
import type { Figure } from './figures.js';
import { issuanceRequest, keepAliveLoad, percentile, type LoadResult } from './https-load.js';

const WORKLOADS = 500;
const CONNECTIONS = 16;
const WARMUP_MS = 3000;
const ROUNDS = 5;
const SLICE_MS = 1500;
const CEILING_CPU_MS = 500;

/**
 * Issuance over the full HTTPS path (`meshid serve --local` child, keep-alive connections, a
 * different token and CSR each request) next to the raw crypto one issuance needs on one core.
 * Rounds alternate a ceiling slice and a load slice, so a noisy neighbour weighs on both alike;
 * each round gives one ratio and the figure is their median. The like-for-like figure is
 * issuances per second of the server's own CPU (all its threads), since the ceiling is per CPU-second.
 */
export async function benchCa(algs: KeyAlgorithm[] = ['ec-p256', 'rsa-2048']): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const alg of algs) {
    const fixture = await createFixture(alg, WORKLOADS);
    const crypto = await rawCrypto(fixture);
    const requests = fixture.tokens.map((t, i) => issuanceRequest(t, fixture.csrs[i]!));
    const server = await startServe(fixture.dataDir);
    const pid = server.child.pid!;
    try {
      const target = { port: server.caPort, ca: fixture.roots };
      await new Promise((r) => setTimeout(r, 500));
      const idleRss = rssMb(pid);
      const warm = await keepAliveLoad(target, requests, CONNECTIONS, WARMUP_MS);
      if (warm.errors > 0) throw new Error(`warm-up: ${warm.errors} failed requests, first: ${warm.firstError}`);
      const rounds: Round[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const ceiling = crypto.perCpuSecond(CEILING_CPU_MS);
        const cpu0 = cpuSeconds(pid);
        const load = await keepAliveLoad(target, requests, CONNECTIONS, SLICE_MS);
        rounds.push({ ceiling, load, serverCpu: cpuSeconds(pid) - cpu0 });
      }
      figures.push(...throughputFigures(alg, rounds, idleRss, rssMb(pid, 'VmHWM')));
    } finally {
      await server.stop();
    }
  }
  return figures;
}

interface Round {
  ceiling: number;
  load: LoadResult;
  serverCpu: number;
}

export async function rawCrypto(f: CaFixture): Promise<RawIssuanceCrypto> {
  const stored = await new FileCaStore(f.dataDir).read();
  if (!stored) throw new Error(`no CA material in ${f.dataDir}`);
  const signer = loadCaMaterial(stored.files, Date.now()).signer;
  const issuer = await loadLocalIssuer(f.dataDir, false);
  return new RawIssuanceCrypto(f.tokens, f.csrs, issuer.publicKey, signer.privateKey, signer.hash);
}

function throughputFigures(alg: string, rounds: Round[], idleRss: number, peakRss: number): Figure[] {
  const errors = rounds.reduce((n, r) => n + r.load.errors, 0);
  const firstError = rounds.find((r) => r.load.firstError)?.load.firstError;
  const wall = rounds.map((r) => r.load.requests / r.load.seconds);
  const perCpu = rounds.map((r) => r.load.requests / r.serverCpu);
  const ceiling = median(rounds.map((r) => r.ceiling));
  const cpuRatios = rounds.map((r, i) => perCpu[i]! / r.ceiling);
  const latencies = rounds.flatMap((r) => r.load.latenciesMs).sort((a, b) => a - b);
  const busy = median(rounds.map((r) => r.serverCpu / r.load.seconds));
  return [
    {
      name: `issuance over HTTPS, ${alg} CA (certs/s, wall clock)`, value: median(wall), unit: 'certs/s', ceiling,
      ratio: median(rounds.map((r, i) => wall[i]! / r.ceiling)),
      note: `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ${errors} errors${firstError ? ` (${firstError.slice(0, 120)})` : ''}, ` +
        `server core busy ${(100 * busy).toFixed(0)}%, ${CONNECTIONS} keep-alive connections, median of ${ROUNDS} rounds`,
    },
    {
      name: `issuance per second of server CPU, ${alg} CA`, value: median(perCpu), unit: 'certs/s', ceiling, ratio: median(cpuRatios),
      note: `per-round ratios ${range(cpuRatios)}; ${(1e6 / median(perCpu)).toFixed(0)} µs of server CPU per issuance vs ${(1e6 / ceiling).toFixed(0)} µs of crypto; goal ratio >= 0.6`,
    },
    { name: `control plane RSS idle, ${alg} CA`, value: idleRss, unit: 'MB', ceiling: 100, note: 'goal < 100 MB' },
    { name: `control plane peak RSS under load, ${alg} CA`, value: peakRss, unit: 'MB', note: 'VmHWM after the load' },
  ];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function range(xs: number[]): string {
  return `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
}

import type { KeyAlgorithm } from '../src/pki/keys.js';
import { rawCryptoFor } from './ca-ceiling.js';
import { cpuSeconds, createFixture, startServe } from './ca-fixture.js';
import { median, range, type Figure } from './figures.js';
import { istioCall, istioCaLoad } from './grpc-load.js';
import { issuanceRequest, keepAliveLoad, percentile, type LoadResult } from './https-load.js';
import { ISSUANCE_LOAD } from './ca.js';

const { WORKLOADS, CONNECTIONS, WARMUP_MS, ROUNDS, SLICE_MS, CEILING_CPU_MS } = ISSUANCE_LOAD;
/** As many in flight on both APIs: 16 keep-alive HTTPS connections, or 4 HTTP/2 connections carrying 4 calls each. */
const CHANNELS = 4;

interface Slice {
  load: LoadResult;
  serverCpu: number;
}

/**
 * The Istio CA API (CreateCertificate, gRPC over TLS) against the REST API on the same `meshid
 * serve --local` child, same tokens and CSRs, and both against the raw crypto of one issuance.
 * Rounds alternate ceiling, REST and gRPC slices so a noisy neighbour weighs on all alike; each
 * figure is the median over rounds of per-round ratios. Per second of server CPU is the like-for-like
 * figure (the gRPC client in this process is heavier than the HTTPS one and competes for the cores).
 */
export async function benchIstioCa(algs: KeyAlgorithm[] = ['ec-p256']): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const alg of algs) {
    const fixture = await createFixture(alg, WORKLOADS);
    const crypto = await rawCryptoFor(fixture);
    const rest = fixture.tokens.map((t, i) => issuanceRequest(t, fixture.csrs[i]!));
    const grpcCalls = fixture.tokens.map((t, i) => istioCall(t, fixture.csrs[i]!));
    const server = await startServe(fixture.dataDir);
    const pid = server.child.pid!;
    try {
      const target = { port: server.caPort, ca: fixture.roots };
      const timed = async (run: () => Promise<LoadResult>): Promise<Slice> => {
        const cpu0 = cpuSeconds(pid);
        const load = await run();
        if (load.errors > 0) throw new Error(`${load.errors} failed calls, first: ${load.firstError}`);
        return { load, serverCpu: cpuSeconds(pid) - cpu0 };
      };
      const restSlice = (ms: number) => timed(() => keepAliveLoad(target, rest, CONNECTIONS, ms));
      const grpcSlice = (ms: number) => timed(() => istioCaLoad(server.istioCaAddress, fixture.roots, grpcCalls, CHANNELS, CONNECTIONS / CHANNELS, ms));
      await restSlice(WARMUP_MS);
      await grpcSlice(WARMUP_MS);
      const rounds: Array<{ ceiling: number; rest: Slice; grpc: Slice }> = [];
      for (let r = 0; r < ROUNDS; r++) rounds.push({ ceiling: crypto.perCpuSecond(CEILING_CPU_MS), rest: await restSlice(SLICE_MS), grpc: await grpcSlice(SLICE_MS) });
      figures.push(...istioFigures(alg, rounds));
    } finally {
      await server.stop();
    }
  }
  return figures;
}

function istioFigures(alg: string, rounds: Array<{ ceiling: number; rest: Slice; grpc: Slice }>): Figure[] {
  const wall = (s: Slice) => s.load.requests / s.load.seconds;
  const perCpu = (s: Slice) => s.load.requests / s.serverCpu;
  const ceiling = median(rounds.map((r) => r.ceiling));
  const vsRest = rounds.map((r) => perCpu(r.grpc) / perCpu(r.rest));
  const vsCeiling = rounds.map((r) => perCpu(r.grpc) / r.ceiling);
  const latencies = rounds.flatMap((r) => r.grpc.load.latenciesMs).sort((a, b) => a - b);
  return [
    {
      name: `Istio CA API issuance over gRPC/TLS, ${alg} CA (certs/s, wall clock)`, value: median(rounds.map((r) => wall(r.grpc))), unit: 'certs/s', ceiling,
      ratio: median(rounds.map((r) => wall(r.grpc) / r.ceiling)),
      note: `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ${CHANNELS} HTTP/2 connections x ${CONNECTIONS / CHANNELS} calls in flight, ` +
        `REST on the same server ${median(rounds.map((r) => wall(r.rest))).toFixed(0)} certs/s wall clock, median of ${ROUNDS} rounds`,
    },
    {
      name: `Istio CA API issuance per second of server CPU, ${alg} CA`, value: median(rounds.map((r) => perCpu(r.grpc))), unit: 'certs/s', ceiling, ratio: median(vsCeiling),
      note: `per-round ratios ${range(vsCeiling)}; ${(1e6 * median(rounds.map((r) => 1 / perCpu(r.grpc)))).toFixed(0)} µs of server CPU per issuance vs ${(1e6 / ceiling).toFixed(0)} µs of crypto`,
    },
    {
      name: `Istio CA API (gRPC) vs REST API, per second of server CPU, ${alg} CA`, value: median(rounds.map((r) => perCpu(r.grpc))), unit: 'certs/s',
      ceiling: median(rounds.map((r) => perCpu(r.rest))), ratio: median(vsRest),
      note: `ceiling here is the REST API on the same server and inputs; per-round ratios ${range(vsRest)}`,
    },
  ];
}

import { createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import { loadLocalIssuer } from '../src/ca/auth/local-issuer.js';
import { FileCaStore } from '../src/ca/file-store.js';
import { JWT_SVID_PATH } from '../src/common/jwt-svid-api.js';
import { JWT_FILES } from '../src/ca/store.js';
import { cpuSeconds, createFixture, startServe } from './ca-fixture.js';
import { median, range, type Figure } from './figures.js';
import { exchangeOnce, keepAliveLoad, percentile } from './https-load.js';

const WORKLOADS = 500;
const CONNECTIONS = 16;
const ROUNDS = 5;
const SLICE_MS = 1500;
const CEILING_CPU_MS = 500;

/** POST /v1/jwt-svids as the agent's Workload API sends it. */
function jwtRequest(token: string, audience: string): Buffer {
  const body = Buffer.from(JSON.stringify({ audience: [audience] }));
  const head = `POST ${JWT_SVID_PATH} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/**
 * JWT-SVID issuance over the full HTTPS path (`meshid serve --local` child, keep-alive connections, a
 * different token each request) next to its raw crypto on one core: verify the RS256 token, sign ES256.
 * Rounds alternate a ceiling slice and a load slice; the figure is the median of the per-round ratios.
 */
export async function benchJwt(): Promise<Figure[]> {
  const fixture = await createFixture('ec-p256', WORKLOADS);
  const issuer = await loadLocalIssuer(fixture.dataDir, false);
  const jwtKey = createPrivateKey((await new FileCaStore(fixture.dataDir).read())!.files[JWT_FILES.signingKey]!);
  const requests = fixture.tokens.map((t, i) => jwtRequest(t, `spiffe://cluster.local/ns/bench/sa/peer-${i}`));
  const server = await startServe(fixture.dataDir);
  const pid = server.child.pid!;
  try {
    const target = { port: server.caPort, ca: fixture.roots };
    const sample = await exchangeOnce(target, requests[0]!);
    if (sample.status !== 200) throw new Error(`the CA answered ${sample.status}: ${sample.body.slice(0, 300)}`);
    await keepAliveLoad(target, requests, CONNECTIONS, 2000);
    const rounds: Array<{ ceiling: number; perCpu: number; wall: number; latencies: number[]; errors: number }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ceiling = rawJwtCrypto(fixture.tokens, issuer.publicKey, jwtKey, CEILING_CPU_MS);
      const cpu0 = cpuSeconds(pid);
      const load = await keepAliveLoad(target, requests, CONNECTIONS, SLICE_MS);
      rounds.push({ ceiling, perCpu: load.requests / (cpuSeconds(pid) - cpu0), wall: load.requests / load.seconds, latencies: load.latenciesMs, errors: load.errors });
    }
    const ceiling = median(rounds.map((r) => r.ceiling));
    const ratios = rounds.map((r) => r.perCpu / r.ceiling);
    const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return [
      {
        name: 'JWT-SVID issuance over HTTPS (JWTs/s, wall clock)', value: median(rounds.map((r) => r.wall)), unit: 'JWTs/s', ceiling,
        ratio: median(rounds.map((r) => r.wall / r.ceiling)),
        note: `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ${rounds.reduce((n, r) => n + r.errors, 0)} errors, ${CONNECTIONS} keep-alive connections`,
      },
      {
        name: 'JWT-SVID issuance per second of server CPU', value: median(rounds.map((r) => r.perCpu)), unit: 'JWTs/s', ceiling, ratio: median(ratios),
        note: `per-round ratios ${range(ratios)}; ${(1e6 / median(rounds.map((r) => r.perCpu))).toFixed(0)} µs of server CPU per JWT vs ${(1e6 / ceiling).toFixed(0)} µs of crypto`,
      },
    ];
  } finally {
    await server.stop();
  }
}

/** Verify one RS256 token and sign one ES256 JWT per iteration; per second of this process's CPU. */
function rawJwtCrypto(tokens: string[], tokenKey: KeyObject, jwtKey: KeyObject, cpuMs: number): number {
  const parts = tokens.map((t) => ({ signed: Buffer.from(t.slice(0, t.lastIndexOf('.'))), signature: Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url') }));
  const body = Buffer.alloc(260, 0x5a);
  const start = process.cpuUsage();
  let n = 0;
  for (let used = 0; used < cpuMs * 1000; n++) {
    const p = parts[n % parts.length]!;
    if (!verify('sha256', p.signed, tokenKey, p.signature)) throw new Error('a bench token did not verify');
    sign('sha256', body, { key: jwtKey, dsaEncoding: 'ieee-p1363' });
    if (n % 20 === 0) {
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
  }
  const d = process.cpuUsage(start);
  return n / ((d.user + d.system) / 1e6);
}

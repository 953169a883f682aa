import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, createSign, randomBytes, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileCaStore } from '../src/ca/file-store.js';
import { createCaFiles, loadCaMaterial } from '../src/ca/material.js';
import { loadLocalIssuer, mintToken } from '../src/ca/auth/local-issuer.js';
import { buildCsrPem } from '../src/pki/csr-build.js';
import { parseCsrPem } from '../src/pki/csr.js';
import { generateKeyPair, type KeyAlgorithm } from '../src/pki/keys.js';
import type { Figure } from './figures.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DURATION_MS = 4000;

/** Issuance over the full HTTPS path, next to the raw crypto one issuance needs on one core. */
export async function benchCa(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const alg of ['ec-p256', 'rsa-2048'] as KeyAlgorithm[]) {
    const dataDir = await mkdtemp(join(tmpdir(), `meshid-bench-${alg}-`));
    const files = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes, keyAlgorithm: alg });
    await new FileCaStore(dataDir).write(files, null);
    const issuer = await loadLocalIssuer(dataDir);
    const tokens = await Promise.all(Array.from({ length: 500 }, (_, i) => mintToken(issuer, { namespace: 'bench', serviceAccount: `sa-${i}` })));
    const csrs = tokens.map((_, i) => {
      const k = generateKeyPair();
      return buildCsrPem(k.privateKey, k.publicKey, `spiffe://cluster.local/ns/bench/sa/sa-${i}`);
    });
    const ceiling = rawCeiling(tokens, csrs, loadCaMaterial(files, Date.now()).signer.privateKey, issuer.publicKey);

    const server = await startServer(dataDir);
    const idleRss = rss(server.child);
    const cpuBefore = cpuSeconds(server.child);
    const load = await drive(server.caUrl, await readFile(join(dataDir, 'root-cert.pem'), 'utf8'), tokens, csrs, () => rss(server.child));
    const busy = (cpuSeconds(server.child) - cpuBefore) / load.elapsed;
    server.child.kill('SIGTERM');
    figures.push(
      { name: `issuance over HTTPS, ${alg} CA (certs/s, wall clock)`, value: load.rate, unit: 'certs/s', ceiling, note: `p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, ${load.errors} errors, server core busy ${(100 * busy).toFixed(0)}%` },
      // The ceiling is crypto per second of one core, so the like-for-like figure is issuances per second of the server's own CPU.
      { name: `issuance per second of server CPU, ${alg} CA`, value: load.rate / busy, unit: 'certs/s', ceiling },
      { name: `control plane RSS idle, ${alg} CA`, value: idleRss, unit: 'MB', ceiling: 100, note: 'goal < 100 MB' },
      { name: `control plane RSS under load, ${alg} CA`, value: load.peakRss, unit: 'MB' },
    );
  }
  return figures;
}

/** Verify the token signature, import the CSR key by JWK, verify the CSR, sign a certificate: in a loop. */
function rawCeiling(tokens: string[], csrs: string[], caKey: import('node:crypto').KeyObject, tokenKey: import('node:crypto').KeyObject): number {
  const tokenParts = tokens.map((t) => t.split('.'));
  const csrKeys = csrs.map((c) => parseCsrPem(c).publicKey.export({ format: 'jwk' }));
  const data = randomBytes(200);
  const csrSig = sign('sha256', data, { key: generateKeyPair().privateKey, dsaEncoding: 'der' });
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < 2000) {
    const i = n % tokens.length;
    const [h, p, s] = tokenParts[i]!;
    verify('sha256', Buffer.from(`${h}.${p}`), tokenKey, Buffer.from(s!, 'base64url'));
    const key = createPublicKey({ key: csrKeys[i]!, format: 'jwk' });
    verify('sha256', data, { key, dsaEncoding: 'der' }, csrSig);
    createSign('sha256').update(data).sign({ key: caKey, dsaEncoding: 'der' });
    n++;
  }
  return n / ((performance.now() - started) / 1000);
}

async function startServer(dataDir: string): Promise<{ child: ChildProcess; caUrl: string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--local', '--data-dir', dataDir, '--ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => { out += c; if (out.includes('\n')) resolve(out); });
    child.on('exit', (code) => reject(new Error(`meshid serve exited ${code}`)));
  });
  await new Promise((r) => setTimeout(r, 500));
  return { child, caUrl: /ca=(\S+)/.exec(line)![1]! };
}

/** utime + stime of a child from /proc, in seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rss(child: ChildProcess): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function drive(url: string, ca: string, tokens: string[], csrs: string[], sampleRss: () => number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca });
  const latencies: number[] = [];
  let errors = 0;
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, sampleRss()); }, 100);
  const deadline = performance.now() + DURATION_MS;
  let i = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const k = i++ % tokens.length;
      const t0 = performance.now();
      const status = await post(url, agent, tokens[k]!, JSON.stringify({ csr: csrs[k] }));
      latencies.push(performance.now() - t0);
      if (status !== 200) errors++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 16 }, worker));
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    elapsed,
    rate: latencies.length / elapsed,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    errors,
    peakRss,
  };
}

function post(url: string, agent: Agent, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

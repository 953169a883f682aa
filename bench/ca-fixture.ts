import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileCaStore } from '../src/ca/file-store.js';
import { createCaFiles, loadCaMaterial } from '../src/ca/material.js';
import { issueServingCert, servingNames } from '../src/controlplane/serving-cert.js';
import { loadLocalIssuer, mintToken } from '../src/ca/auth/local-issuer.js';
import { buildCsrPem } from '../src/pki/csr-build.js';
import { generateKeyPair, type KeyAlgorithm } from '../src/pki/keys.js';

const MAIN = fileURLToPath(new URL('../bin/meshid.mjs', import.meta.url));
const BARE = fileURLToPath(new URL('./ca-bare-server.js', import.meta.url));

/** A local-mode data directory and, for each of `count` workloads, its own token and CSR. */
export interface CaFixture {
  dataDir: string;
  roots: string;
  tokens: string[];
  csrs: string[];
}

/** Fresh CA material, token issuer and workloads; `sa-<i>` in namespace `bench`, P-256 keys as agents make. */
export async function createFixture(alg: KeyAlgorithm, count: number, tokenTtlSeconds = 3600): Promise<CaFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), `meshid-bench-${alg}-`));
  await new FileCaStore(dataDir).write(createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes, keyAlgorithm: alg }), null);
  const issuer = await loadLocalIssuer(dataDir);
  const tokens: string[] = [];
  // jose signs on the libuv pool; batches keep thousands of pending signatures from piling up.
  for (let i = 0; i < count; i += 256) {
    const batch = Array.from({ length: Math.min(256, count - i) }, (_, j) => mintToken(issuer, { namespace: 'bench', serviceAccount: `sa-${i + j}`, ttlSeconds: tokenTtlSeconds }));
    tokens.push(...(await Promise.all(batch)));
  }
  const csrs = tokens.map((_, i) => {
    const k = generateKeyPair();
    return buildCsrPem(k.privateKey, k.publicKey, `spiffe://cluster.local/ns/bench/sa/sa-${i}`);
  });
  return { dataDir, roots: await readFile(join(dataDir, 'root-cert.pem'), 'utf8'), tokens, csrs };
}

const CACHE_VALID_MS = 24 * 3_600_000;

/**
 * createFixture, kept in the temp dir between runs (minting thousands of RS256 tokens takes many
 * seconds): the cache holds the CA, the issuer key and the workloads; each run gets a copy of the
 * data directory so a server's writes never reach the cache. Rebuilt once its tokens near expiry.
 */
export async function cachedFixture(name: string, alg: KeyAlgorithm, count: number): Promise<CaFixture & { cached: boolean }> {
  const cacheDir = join(tmpdir(), `meshid-bench-cache-${name}-${alg}-${count}`);
  const manifest = join(cacheDir, 'workloads.json');
  let saved: { validUntil: number; tokens: string[]; csrs: string[] } | null = null;
  try {
    saved = JSON.parse(await readFile(manifest, 'utf8'));
  } catch {
    saved = null;
  }
  const cached = !!saved && saved.validUntil > Date.now() && saved.tokens.length === count;
  if (!cached) {
    const fresh = await createFixture(alg, count, 7 * 86_400);
    await rm(cacheDir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    await cp(fresh.dataDir, join(cacheDir, 'data'), { recursive: true });
    saved = { validUntil: Date.now() + CACHE_VALID_MS, tokens: fresh.tokens, csrs: fresh.csrs };
    await writeFile(manifest, JSON.stringify(saved));
    await rm(fresh.dataDir, { recursive: true, force: true });
  }
  const dataDir = await mkdtemp(join(tmpdir(), `meshid-bench-${name}-`));
  await cp(join(cacheDir, 'data'), dataDir, { recursive: true });
  return { dataDir, roots: await readFile(join(dataDir, 'root-cert.pem'), 'utf8'), tokens: saved!.tokens, csrs: saved!.csrs, cached };
}

export interface ServeChild {
  child: ChildProcess;
  caPort: number;
  /** host:port of the Istio CA API. */
  istioCaAddress: string;
  monitoringUrl: string;
  stop(): Promise<void>;
}

/** `meshid serve --local` as a child process, on free ports; resolves once it says it is ready. */
export async function startServe(dataDir: string, extraArgs: string[] = []): Promise<ServeChild> {
  const args = [MAIN, 'serve', '--local', '--data-dir', dataDir, '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0', ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => { out += c; if (out.includes('\n')) resolve(out); });
    child.on('exit', (code) => reject(new Error(`meshid serve exited ${code}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    child,
    caPort: Number(new URL(/ca=(\S+)/.exec(line)![1]!).port),
    istioCaAddress: /istio-ca=(\S+)/.exec(line)![1]!,
    monitoringUrl: /monitoring=(\S+)\/metrics/.exec(line)![1]!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface BareChild {
  child: ChildProcess;
  port: number;
  /** Busy-waits this long per request from now on (CPU time), standing in for the CA's crypto. */
  setSpin(micros: number): Promise<void>;
  stop(): Promise<void>;
}

/** bench/ca-bare-server.ts as a child, with a serving certificate from the fixture's CA, answering `body`. */
export async function startBare(f: CaFixture, body: string): Promise<BareChild> {
  const stored = await new FileCaStore(f.dataDir).read();
  if (!stored) throw new Error(`no CA material in ${f.dataDir}`);
  const ca = loadCaMaterial(stored.files, Date.now());
  const cert = issueServingCert(ca, { dnsNames: servingNames('meshid-system'), ips: ['127.0.0.1'], now: Date.now(), ttlMs: 3_600_000, random: randomBytes });
  const dir = await mkdtemp(join(tmpdir(), 'meshid-bench-bare-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ key: cert.key, cert: cert.cert, body }), { mode: 0o600 });
  const child = fork(BARE, [configFile], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const next = () => new Promise<Record<string, number>>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Record<string, number>));
    child.once('exit', (code) => reject(new Error(`the bare server exited ${code}`)));
  });
  const { port } = await next();
  const exited = new Promise((r) => child.once('exit', r));
  return {
    child,
    port: port!,
    async setSpin(micros) {
      child.send({ spinMicros: Math.round(micros) });
      await next();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** utime + stime of a process, all its threads, from /proc, in seconds (USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set now (VmRSS) or its high-water mark since start (VmHWM), in MB. */
export function rssMb(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${which}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** One gauge from the server's Prometheus endpoint. */
export async function scrapeGauge(monitoringUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${monitoringUrl}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

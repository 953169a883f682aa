import assert from 'node:assert/strict';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { Registry } from 'prom-client';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { loadJwtKeys } from '../../src/ca/jwt/keys.js';
import { issueWorkloadCertificate } from '../../src/ca/issue.js';
import { startRotationDriver, type RotationDriver } from '../../src/ca/rotation/driver.js';
import { requestRotation } from '../../src/ca/rotation/plan.js';
import { bundleCerts, NEXT_FILES, parseRotationState, type RotationState } from '../../src/ca/rotation/state.js';
import { JWT_FILES, PLUGIN_FILES, type CaFiles } from '../../src/ca/store.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/log.js';
import { buildCsrPem } from '../../src/pki/csr-build.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { CLOCK_SKEW_MS } from '../../src/pki/templates.js';
import { JwtTimeline } from './jwt-timeline.js';
import { Crash, SimStore } from './sim-store.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
export const SIM = { ttlMs: HOUR, maxTtlMs: 2 * HOUR, propagationDelayMs: 5 * MIN, retireMarginMs: 2 * MIN, maxSyncLagMs: 4 * MIN, stepMs: MIN };

export interface FleetOptions {
  store: SimStore;
  workloads: number;
  seed: number;
  /** The bundle a workload in `namespace` can see outside renewals: root-cert.pem locally, the ConfigMap in a cluster. */
  publishedBundle: (namespace: string, files: CaFiles) => string | undefined;
  publishedEverywhere?: (bundle: string) => Promise<boolean>;
  /** Called at each instant with the stored files, e.g. to point the bundle reconciler at the current bundle. */
  onInstant?: (files: CaFiles) => void;
  /** Check each leaf's signature against its issuer for one leaf in this many (1: all). Validity is always checked. */
  verifyOneIn?: number;
  /** Misconfigure the driver, to show the checker catches an unsafe rotation. */
  driver?: { maxWorkloadTtlMs?: number; bundlePropagationDelayMs?: number };
  /** Misconfigure JWT-SVID lifetimes (default: the CA's cap, the driver's max workload TTL), to show the JWKS check bites. */
  jwtMaxTtlMs?: number;
  /** The share of workloads asking for the maximum TTL (default 0.1); the rest get the default. */
  maxTtlShare?: number;
  /** Whether issued leaves are recorded in the store before they are handed out, as the CA API does (default true). */
  recordLeaves?: boolean;
}

export interface FleetReport {
  steps: number;
  issued: number;
  classChecks: number;
  /** Ordered workload pairs those class checks stand for: the sum over instants of live² . */
  pairsCovered: number;
  maxClasses: number;
  crashes: number;
  /** Store writes by the rotation driver (crashed ones included). */
  writes: number;
  /** The JWT keys that signed, in order: the first, then the one the rotation made. */
  jwtSigners: string[];
  final: { files: CaFiles; state: RotationState };
  /** When the rotation was requested and each phase entered, by the simulated clock. */
  timeline: { requestedAt: number; activatedAt?: number; completedAt?: number };
}

interface Workload { ns: string; csr: string; ttlSeconds?: number; notBefore: number; notAfter: number; issuer: string; bundle: number; renewAt: number; lagMs: number }
interface Bundle { seq: number; roots: X509Certificate[] }

/**
 * Runs a whole root rotation with a ManualClock while a fleet keeps renewing, and throws at the first
 * instant where a workload holds an expired leaf or two workloads could not verify each other.
 */
export async function runFleet(o: FleetOptions): Promise<FleetReport> {
  const rand = mulberry32(o.seed);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const random = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const authority = await CertificateAuthority.open({ store: o.store, trustDomain: 'cluster.local', clock, random, logger: silentLogger });
  const registry = new Registry();
  const newDriver = (): RotationDriver => startRotationDriver({
    store: o.store, authority, clock, random, trustDomain: 'cluster.local', maxWorkloadTtlMs: o.driver?.maxWorkloadTtlMs ?? SIM.maxTtlMs,
    bundlePropagationDelayMs: o.driver?.bundlePropagationDelayMs ?? SIM.propagationDelayMs, retireMarginMs: SIM.retireMarginMs, rotateAtFraction: null,
    publishedEverywhere: o.publishedEverywhere, logger: silentLogger, registry, tickMs: 24 * HOUR,
  });
  let driver = newDriver();

  const bundles = new Map<string, Bundle>();
  const bundleOf = (roots: X509Certificate[]): Bundle => {
    const key = roots.map((r) => r.fingerprint256).join(',');
    let b = bundles.get(key);
    if (!b) bundles.set(key, (b = { seq: bundles.size, roots }));
    return b;
  };
  const bySeq = () => new Map([...bundles.values()].map((b) => [b.seq, b]));
  const issuers = new Map<string, X509Certificate>();
  // Parsing a certificate costs more than verifying one: CA certificates are parsed once per PEM.
  const cache = new Map<string, { cert: X509Certificate; publicKey: KeyObject }>();
  const parsed = (pem: string) => {
    let c = cache.get(pem);
    if (!c) {
      const cert = new X509Certificate(pem);
      cache.set(pem, (c = { cert, publicKey: cert.publicKey }));
    }
    return c;
  };
  /** Signature results per (issuer, bundle): time-independent, so computed once; validity is rechecked each instant. */
  const verified = new Map<string, boolean>();
  /** When each namespace's published bundle (by seq) was first seen: workloads adopt it after their own lag. */
  const seen = new Map<string, Array<{ at: number; seq: number }>>();
  const jwt = new JwtTimeline({ maxWorkloadTtlMs: o.jwtMaxTtlMs ?? o.driver?.maxWorkloadTtlMs ?? SIM.maxTtlMs, propagationDelayMs: SIM.propagationDelayMs });
  const report = { steps: 0, issued: 0, classChecks: 0, pairsCovered: 0, maxClasses: 0, crashes: 0 };

  const issue = async (w: Workload, now: number): Promise<void> => {
    const ca = authority.current();
    const out = issueWorkloadCertificate({ csr: w.csr, ttlSeconds: w.ttlSeconds }, { namespace: w.ns, serviceAccount: 'sa', expiresAt: now + HOUR },
      { ca, trustDomain: 'cluster.local', ttl: { defaultMs: SIM.ttlMs, maxMs: SIM.maxTtlMs }, now, random });
    if (o.recordLeaves ?? true) await authority.recordIssued(ca, Date.parse(out.expiresAt));
    const issuer = parsed(out.certChain[1]!);
    // Each leaf's own signature is checked here, once; from then on it stands for its issuer's class.
    if (report.issued % (o.verifyOneIn ?? 1) === 0) {
      const leaf = new X509Certificate(out.certChain[0]!);
      if (!leaf.checkIssued(issuer.cert) || !leaf.verify(issuer.publicKey)) throw new Error('issued leaf does not verify against its issuer');
      if (Date.parse(leaf.validTo) !== Date.parse(out.expiresAt) || Date.parse(leaf.validFrom) > now) throw new Error('leaf validity differs from what the fleet assumes');
    }
    issuers.set(issuer.cert.fingerprint256, issuer.cert);
    const b = bundleOf(out.trustBundle.map((p) => parsed(p).cert));
    // Bundles are numbered as first seen, so the higher number is the newer bundle.
    Object.assign(w, { notBefore: now - CLOCK_SKEW_MS, notAfter: Date.parse(out.expiresAt), issuer: issuer.cert.fingerprint256, bundle: Math.max(w.bundle, b.seq) });
    const ttl = w.notAfter - now;
    w.renewAt = now + Math.floor(ttl * (0.4 + 0.2 * rand()));
    report.issued++;
  };

  const fleet: Workload[] = [];
  for (let i = 0; i < o.workloads; i++) {
    const keys = generateKeyPair();
    const ns = `ns-${i % 5}`;
    const w: Workload = { ns, csr: buildCsrPem(keys.privateKey, keys.publicKey, `spiffe://cluster.local/ns/${ns}/sa/sa`), ttlSeconds: rand() < (o.maxTtlShare ?? 0.1) ? SIM.maxTtlMs / 1000 : undefined,
      notBefore: 0, notAfter: 0, issuer: '', bundle: -1, renewAt: 0, lagMs: Math.floor(rand() * SIM.maxSyncLagMs) };
    await issue(w, clock.now());
    w.renewAt = clock.now() + Math.floor(rand() * (w.notAfter - clock.now()) * 0.5); // a fleet of random ages
    fleet.push(w);
  }

  const requestAt = clock.now() + 10 * MIN;
  let doneAt = Infinity;
  let state: RotationState = { phase: 'idle' };
  let files: CaFiles = {};
  for (; clock.now() < doneAt + 15 * MIN; report.steps++) {
    if (report.steps > 600) throw new Error(`rotation did not finish; stuck in ${state.phase}`);
    clock.advance(SIM.stepMs);
    const now = clock.now();
    if (now >= requestAt && state.phase === 'idle' && doneAt === Infinity) {
      const stored = (await o.store.read())!;
      if (parseRotationState(stored.files).phase === 'idle') await o.store.write(requestRotation(stored.files, now, random).files, stored.version);
      o.store.arm();
    }
    for (let restarts = 0; ; restarts++) {
      try {
        await driver.tick();
        break;
      } catch (err) {
        if (!(err instanceof Crash) || restarts > 10) throw err;
        // The process died: a new one starts from what is stored, at the same instant.
        report.crashes++;
        driver.stop();
        driver = newDriver();
      }
    }
    const stored = (await o.store.read())!;
    files = stored.files;
    authority.reload(stored); // what the store watch does for every replica
    o.onInstant?.(files);
    jwt.observe(now, loadJwtKeys(files)!, authority.current().jwt!);
    state = parseRotationState(files);
    if (state.phase === 'idle' && state.completedAt !== undefined && doneAt === Infinity) doneAt = now;

    for (const ns of new Set(fleet.map((w) => w.ns))) {
      const pem = o.publishedBundle(ns, files);
      if (!pem) continue;
      const b = bundleOf(pemBlocks(pem).map((p) => parsed(p).cert));
      const list = seen.get(ns) ?? [];
      if (!list.some((e) => e.seq === b.seq)) list.push({ at: now, seq: b.seq });
      seen.set(ns, list);
    }
    for (const w of fleet) {
      for (const e of seen.get(w.ns) ?? []) if (e.seq > w.bundle && e.at + w.lagMs <= now) w.bundle = e.seq;
      if (now >= w.renewAt) await issue(w, now);
    }
    checkInstant(fleet, now, issuers, bySeq(), verified, report);
  }
  driver.stop();
  authority.close();
  return { ...report, writes: o.store.writes, jwtSigners: jwt.signedBy(), final: { files, state }, timeline: { requestedAt: requestAt, activatedAt: state.activatedAt, completedAt: state.completedAt } };
}

/**
 * Every ordered pair (A, B) of live workloads must verify: B's bundle accepts A's chain. A's chain is
 * its leaf (signature already checked at issuance) plus its issuer's chain, so the outcome depends only
 * on (A's issuer, B's bundle). Checking every issuer × every bundle present covers all N² pairs
 * (and each workload against itself) with a handful of chain verifications instead of 10^6.
 */
function checkInstant(fleet: Workload[], now: number, issuers: Map<string, X509Certificate>, bundles: Map<number, Bundle>, verified: Map<string, boolean>,
  report: { classChecks: number; pairsCovered: number; maxClasses: number }): void {
  const live = new Set<string>();
  const held = new Set<number>();
  for (const w of fleet) {
    if (now < w.notBefore || now >= w.notAfter) throw new Error(`a workload holds a leaf outside its validity at ${new Date(now).toISOString()}`);
    live.add(w.issuer);
    held.add(w.bundle);
  }
  for (const i of live) {
    const issuer = issuers.get(i)!;
    if (now < Date.parse(issuer.validFrom) || now >= Date.parse(issuer.validTo)) throw new Error('a signing CA in use is outside its validity');
    for (const seq of held) {
      const b = bundles.get(seq)!;
      const key = `${i}/${seq}`;
      if (!verified.has(key)) verified.set(key, b.roots.some((r) => issuer.checkIssued(r) && issuer.verify(r.publicKey)));
      const ok = verified.get(key)! && b.roots.some((r) => issuer.checkIssued(r) && now >= Date.parse(r.validFrom) && now < Date.parse(r.validTo));
      if (!ok) throw new Error(`at ${new Date(now).toISOString()} a workload holding bundle #${seq} cannot verify leaves of signing CA ${i.slice(0, 23)}`);
      report.classChecks++;
    }
  }
  report.pairsCovered += fleet.length * fleet.length;
  report.maxClasses = Math.max(report.maxClasses, live.size * held.size);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
}

/** The end state every run must reach, crash or not: one root (the new one), the new CA signing, idle. */
export function assertRotatedAndIdle(r: FleetReport): void {
  const { files, state } = r.final;
  assert.equal(state.phase, 'idle');
  assert.ok(state.completedAt && state.retiredAt && state.activatedAt && state.publishedAt && state.preparedAt);
  const roots = bundleCerts(files[PLUGIN_FILES.roots]);
  assert.equal(roots.length, 1, 'exactly one root left in the bundle');
  assert.equal(roots[0]!.fingerprint256, state.newRoot, 'the remaining root is the new one');
  assert.ok(!state.oldRoots!.includes(roots[0]!.fingerprint256));
  const signing = new X509Certificate(files[PLUGIN_FILES.signingCert]!);
  assert.ok(signing.checkIssued(roots[0]!) && signing.verify(roots[0]!.publicKey), 'the new CA signs');
  for (const name of [...Object.values(NEXT_FILES), JWT_FILES.nextSigningKey, JWT_FILES.previousPublicKey]) assert.equal(files[name], undefined, `${name} is cleaned up`);
  assert.equal(r.jwtSigners.length, 2, 'the JWT key rotated once, with the root');
  assert.deepEqual(loadJwtKeys(files)!.bundle.keys.map((k) => k.kid), [r.jwtSigners[1]], 'the JWKS holds only the new JWT key');
}


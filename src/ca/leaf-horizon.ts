import { X509Certificate } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { MeshidError } from '../common/errors.js';
import { JWT_FILES, PLUGIN_FILES, STORE_READ_ONLY, StoreConflictError, type CaFiles, type CaStore, type StoredCaFiles } from './store.js';

/**
 * Per signing CA, a bound on the NotAfter of every leaf it signed, stored with the CA material so that it
 * moves with it (one folder or Secret, written with compare-and-swap, shared by every replica). A leaf is
 * handed out only once its NotAfter is covered by what is stored, so a crash never leaves a leaf the
 * store does not know of. Root rotation retires the old root once the old CA's bound has passed, not
 * "activation + the longest TTL a workload may ask for".
 */
export const HORIZON_FILE = 'leaf-horizon.json';

const PRUNE_AFTER_MS = 30 * 86_400_000;

export interface HorizonEntry {
  /** Every leaf of this CA expires by then (recorded before the leaf was returned). */
  until: number;
  /**
   * Recorded from the CA's first moment (created or staged by a meshid that records), so no leaf predates
   * the record. Otherwise leaves from before `since` are bounded only by `since` + the maximum TTL.
   */
  complete: boolean;
  since: number;
}

export type Horizon = Record<string, HorizonEntry>;

export function parseHorizon(files: CaFiles): Horizon {
  const text = files[HORIZON_FILE];
  if (!text) return {};
  try {
    const raw = JSON.parse(text) as Record<string, { until?: unknown; complete?: unknown; since?: unknown }>;
    const out: Horizon = {};
    for (const [fp, e] of Object.entries(raw)) {
      const until = Date.parse(String(e.until));
      const since = Date.parse(String(e.since));
      if (Number.isFinite(until) && Number.isFinite(since)) out[fp] = { until, since, complete: e.complete === true };
    }
    return out;
  } catch {
    return {}; // unreadable: every bound falls back to the maximum TTL, the safe side
  }
}

function serialize(h: Horizon): string {
  const out = Object.fromEntries(Object.entries(h).map(([fp, e]) => [fp, { until: new Date(e.until).toISOString(), since: new Date(e.since).toISOString(), complete: e.complete }]));
  return `${JSON.stringify(out, null, 2)}\n`;
}

export const fingerprintOf = (certPem: string): string => new X509Certificate(certPem).fingerprint256;

/** A CA that has signed nothing yet: its record is complete from the start. */
export function withFreshCa(files: CaFiles, fingerprint: string, now: number): Record<string, string> {
  const h = parseHorizon(files);
  h[fingerprint] = { until: now, since: now, complete: true };
  return { ...files, [HORIZON_FILE]: serialize(h) } as Record<string, string>;
}

/** The files with `until` covered for the CA, or null if they already cover it. Entries long expired are dropped. */
export function withIssued(files: CaFiles, fingerprint: string, until: number, now: number): Record<string, string> | null {
  const h = parseHorizon(files);
  const e = h[fingerprint];
  if (e && e.until >= until) return null;
  h[fingerprint] = e ? { ...e, until } : { until, since: now, complete: false };
  // Dropping a record is always safe (the bound falls back to the maximum TTL); these are long past mattering.
  for (const [fp, old] of Object.entries(h)) if (old.until < now - PRUNE_AFTER_MS) delete h[fp];
  return { ...files, [HORIZON_FILE]: serialize(h) } as Record<string, string>;
}

/** When the last leaf of the CA expires, as far as the store can vouch; null when it holds no record of it. */
export function leavesExpireBy(files: CaFiles, fingerprint: string, maxTtlMs: number): number | null {
  const e = parseHorizon(files)[fingerprint];
  if (!e) return null;
  return e.complete ? e.until : Math.max(e.until, e.since + maxTtlMs);
}

/** The latest bound over every CA but `current`: after activation, a replica slow to reload may still sign with the old one. */
export function otherLeavesExpireBy(files: CaFiles, current: string, maxTtlMs: number): number | null {
  const bounds = Object.keys(parseHorizon(files)).filter((fp) => fp !== current).map((fp) => leavesExpireBy(files, fp, maxTtlMs)!);
  return bounds.length ? Math.max(...bounds) : null;
}

/**
 * One replica's side: covers each leaf before it is returned. Writes ahead by up to `aheadMs`, so a steady
 * stream of issuance costs about one store write per `aheadMs`, and concurrent requests share the write.
 */
export class LeafHorizonRecorder {
  private readonly covered = new Map<string, number>();
  private pending: Promise<void> | null = null;

  constructor(private readonly o: { store: CaStore; clock: Clock; aheadMs: number; onWritten(stored: StoredCaFiles): void }) {}

  async cover(fingerprint: string, notAfter: number): Promise<void> {
    // A tenth of the leaf's life at most, so that short-lived demo leaves do not hold a retire back by a minute.
    const ahead = Math.min(this.o.aheadMs, Math.max(0, (notAfter - this.o.clock.now()) / 10));
    while ((this.covered.get(fingerprint) ?? -Infinity) < notAfter) {
      if (!this.pending) this.pending = this.persist(fingerprint, Math.ceil(notAfter + ahead)).finally(() => { this.pending = null; });
      await this.pending;
    }
  }

  private async persist(fingerprint: string, until: number): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const stored = await this.o.store.read();
      if (!stored) throw new Error(`no CA material in ${this.o.store.describe()} to record issued leaves in`);
      const next = withIssued(stored.files, fingerprint, until, this.o.clock.now());
      if (next === null) {
        this.covered.set(fingerprint, parseHorizon(stored.files)[fingerprint]!.until);
        return;
      }
      try {
        this.o.onWritten(await this.o.store.write(next, stored.version));
        this.covered.set(fingerprint, until);
        return;
      } catch (err) {
        // An operator's plug-in Secret is theirs alone: meshid neither writes nor rotates it, so there is no
        // retire to hold back; its leaves are issued unrecorded (a later rotation falls back to the maximum TTL).
        if (err instanceof MeshidError && err.code === STORE_READ_ONLY) {
          this.covered.set(fingerprint, Number.POSITIVE_INFINITY);
          return;
        }
        if (!(err instanceof StoreConflictError)) throw err;
      }
    }
    throw new Error(`could not record issued leaves in ${this.o.store.describe()}: it kept changing`);
  }
}

/** Whether two stored sets hold the same CA material and JWT keys (they may differ only in the horizon or rotation state). */
export function sameSigningMaterial(a: CaFiles, b: CaFiles): boolean {
  return [...Object.values(PLUGIN_FILES), ...Object.values(JWT_FILES)].every((name) => a[name] === b[name]);
}

import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Svid } from './svid.js';

export interface StoreChange {
  svid: boolean;
  bundle: boolean;
}

/**
 * The agent's current SVID and trust bundle. Every reader goes through `current()`, which returns nothing
 * once the certificate has expired, so no path can serve or write an expired certificate.
 */
export class SvidStore extends EventEmitter<{ change: [StoreChange] }> {
  private svid: Svid | null = null;
  private bundle: string[] = [];
  private svidVersionValue = '';
  private bundleVersionValue = '';
  private fileBundleAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock) {
    super();
  }

  current(): Svid | null {
    return this.svid && this.svid.notAfter > this.clock.now() ? this.svid : null;
  }

  /** The latest trust bundle, even after the SVID expired: roots are public and Envoy still needs them. */
  roots(): string[] {
    return this.bundle;
  }

  svidVersion(): string {
    return this.svidVersionValue;
  }

  bundleVersion(): string {
    return this.bundleVersionValue;
  }

  /**
   * Installs a newer SVID, and the bundle it came with unless the mounted file changed the bundle while the
   * request was in flight: that answer's bundle is older news, and taking it could drop a root that was just
   * added for a rotation until the next renewal. An expired SVID is refused.
   */
  setSvid(svid: Svid): boolean {
    if (svid.notAfter <= this.clock.now()) return false;
    this.svid = svid;
    this.svidVersionValue = versionOf(svid.chainPem);
    const bundleChanged = svid.requestedAt >= this.fileBundleAt && this.replaceBundle(svid.bundlePem);
    this.emit('change', { svid: true, bundle: bundleChanged });
    return true;
  }

  /** A bundle learnt outside a renewal (the CA root file changed during a root rotation). */
  setBundle(roots: string[]): boolean {
    if (roots.length === 0 || !this.replaceBundle(roots)) return false;
    this.fileBundleAt = this.clock.now();
    this.emit('change', { svid: false, bundle: true });
    return true;
  }

  private replaceBundle(roots: string[]): boolean {
    const version = versionOf(roots);
    if (version === this.bundleVersionValue) return false;
    this.bundle = roots;
    this.bundleVersionValue = version;
    return true;
  }
}

/** Content-derived versions: the same certificates always carry the same version, across restarts too. */
function versionOf(pems: string[]): string {
  const h = createHash('sha256');
  for (const p of pems) h.update(p);
  return h.digest('hex').slice(0, 16);
}

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Jwks } from './ca-jwt.js';
import type { Timers } from './timers.js';

export interface HeldJwks {
  jwks: Jwks;
  /** The JWK Set as JSON bytes, as JWTBundlesResponse carries it. */
  bytes: Buffer;
  version: string;
}

/** A key the bundle does not have yet is looked for at the CA at most this often. */
export const UNKNOWN_KEY_REFRESH_MS = 5_000;

/**
 * The trust domain's JWT bundle from the CA. It is first fetched when a client needs it, not at agent
 * start (most pods never ask), then polled on the bundle cadence and after every SVID rotation (the
 * signing key rotates with the CA); 'change' fires when the keys differ.
 */
export class JwtBundleSource extends EventEmitter<{ change: [] }> {
  private held: HeldJwks | null = null;
  private inflight: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  private cancel: (() => void) | null = null;
  private lastFetchAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: { fetch: () => Promise<Jwks>; clock: Clock; timers: Timers; intervalMs: number; logger: Logger }) {
    super();
  }

  current(): HeldJwks | null {
    return this.held;
  }

  /** Resolves once a bundle is held; a failed first fetch rejects with the CA's error. */
  async ensure(): Promise<HeldJwks> {
    if (!this.started) {
      this.started = true;
      this.schedule();
    }
    if (!this.held) await this.refresh();
    return this.held!;
  }

  /** Fetches now (one fetch at a time); a no-op until the bundle was first needed. */
  refresh(): Promise<void> {
    if (!this.started || this.stopped) return Promise.resolve();
    this.inflight ??= this.fetchOnce().finally(() => (this.inflight = null));
    return this.inflight;
  }

  /** For a token whose key is not in the bundle: refetch, unless that was just done. */
  async refreshForUnknownKey(): Promise<boolean> {
    if (this.o.clock.now() - this.lastFetchAt < UNKNOWN_KEY_REFRESH_MS) return false;
    const before = this.held?.version;
    await this.refresh();
    return this.held?.version !== before;
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async fetchOnce(): Promise<void> {
    this.lastFetchAt = this.o.clock.now();
    const jwks = await this.o.fetch();
    const bytes = Buffer.from(JSON.stringify(jwks));
    const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    if (version === this.held?.version) return;
    this.held = { jwks, bytes, version };
    this.o.logger.info({ keys: jwks.keys.length, version }, 'JWT bundle changed');
    this.emit('change');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.o.timers.after(this.o.intervalMs, () => {
      this.refresh()
        .catch((err: Error) => this.o.logger.warn({ err: err.message }, 'cannot refresh the JWT bundle; keeping the one held'))
        .finally(() => this.schedule());
    });
  }
}

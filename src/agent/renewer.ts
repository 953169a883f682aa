import type { Clock } from '../common/clock.js';
import { isMeshidError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { CaError } from './ca-client.js';
import type { AgentMetrics } from './metrics.js';
import type { ProblemLog } from './problem-log.js';
import { renewalTime, retryAfterDelay, retryDelay, DEFAULT_BACKOFF, DEFAULT_RENEWAL, type BackoffPolicy, type RenewalPolicy } from './rotation.js';
import type { FetchSvid } from './svid-fetch.js';
import type { Svid } from './svid.js';
import type { SvidStore } from './svid-store.js';
import type { Timers } from './timers.js';

export interface RenewerOptions {
  fetchSvid: FetchSvid;
  store: SvidStore;
  clock: Clock;
  timers: Timers;
  random: () => number;
  logger: Logger;
  metrics: AgentMetrics;
  /** Where failures are logged: once per distinct problem, however often the retries hit it. */
  problems: ProblemLog;
  /** Runs after each new SVID is installed (writing the files): from the loop, so files follow every rotation. */
  afterRenewal?: (svid: Svid) => Promise<void>;
  renewal?: RenewalPolicy;
  backoff?: BackoffPolicy;
}

/**
 * The rotation loop: fetch now, then renew at about half of each certificate's life, with a fresh key
 * every time; on failure retry with capped, jittered backoff while the current SVID keeps being served.
 */
export class Renewer {
  private cancelTimer: (() => void) | null = null;
  private failures = 0;
  private stopped = false;
  private running: Promise<void> | null = null;
  private firstListeners: Array<() => void> = [];

  constructor(private readonly o: RenewerOptions) {}

  start(): void {
    this.schedule(0);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    return this.running ?? Promise.resolve();
  }

  /** Resolves once an SVID is held (at once if one already is). */
  whenReady(): Promise<void> {
    if (this.o.store.current()) return Promise.resolve();
    return new Promise((resolve) => this.firstListeners.push(resolve));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancelTimer?.();
    this.cancelTimer = this.o.timers.after(ms, () => {
      this.cancelTimer = null;
      this.running = this.attempt().finally(() => (this.running = null));
    });
  }

  private async attempt(): Promise<void> {
    const { store, clock, logger, metrics, problems } = this.o;
    let svid: Svid;
    try {
      svid = await this.o.fetchSvid();
    } catch (err) {
      if (this.stopped) return;
      const code = isMeshidError(err) ? err.code : 'unexpected_error';
      metrics.renewals.inc({ result: code });
      const held = store.current();
      const notAfter = held?.notAfter ?? null;
      const asked = err instanceof CaError ? err.retryAfterMs : undefined;
      const attempt = this.failures++;
      const delay = asked === undefined
        ? retryDelay(attempt, this.o.random(), clock.now(), notAfter, this.o.backoff ?? DEFAULT_BACKOFF)
        : retryAfterDelay(asked, this.o.random(), clock.now(), notAfter);
      const reason = err instanceof Error ? err.message : String(err);
      problems.report(
        code, reason,
        { retryInMs: delay, servingUntil: held ? new Date(held.notAfter).toISOString() : null },
        `SVID fetch failed: ${reason}${held ? '; still serving the current SVID' : '; not ready until one is held'}`,
      );
      this.schedule(delay);
      return;
    }
    if (this.stopped) return;
    if (!store.setSvid(svid)) {
      metrics.renewals.inc({ result: 'expired_certificate' });
      this.schedule(retryDelay(this.failures++, this.o.random(), clock.now(), null, this.o.backoff ?? DEFAULT_BACKOFF));
      return;
    }
    this.failures = 0;
    problems.clear();
    metrics.renewals.inc({ result: 'success' });
    metrics.certExpiry.set(svid.notAfter / 1000);
    const next = renewalTime(svid, this.o.random(), this.o.renewal ?? DEFAULT_RENEWAL);
    logger.info({ spiffeId: svid.spiffeId, notAfter: new Date(svid.notAfter).toISOString(), renewAt: new Date(next).toISOString() }, 'SVID installed');
    for (const l of this.firstListeners.splice(0)) l();
    if (this.o.afterRenewal) {
      await this.o.afterRenewal(svid).catch((err: Error) => logger.error({ err: err.message }, 'writing the SVID files failed; will retry at the next renewal'));
    }
    this.schedule(Math.max(0, next - clock.now()));
  }
}

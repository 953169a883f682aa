import { systemClock, type Clock } from '../common/clock.js';
import { formatDuration, parseDuration } from '../common/duration.js';
import { isMeshidError, MeshidError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { workloadSpiffeId } from '../pki/spiffe.js';
import { CaError } from './ca-client.js';
import { AGENT_DEFAULTS, type AgentConfig } from './config.js';
import { writeSvidFiles } from './files.js';
import { ProblemLog } from './problem-log.js';
import { retryAfterDelay, retryDelay, type BackoffPolicy } from './rotation.js';
import { CA_TIMEOUT_MS, svidFetcherFor, type FetchSvid } from './svid-fetch.js';
import type { Svid } from './svid.js';
import { SvidStore } from './svid-store.js';
import { keepAliveTimers, type Timers } from './timers.js';

export interface FetchOnceDeps {
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
  logger?: Logger;
  fetchSvid?: FetchSvid;
  backoff?: BackoffPolicy;
}

/**
 * `--once` (an init container, or a job that needs files): fetch one SVID and write the files. It may start
 * before the CA answers or before the mounted bundle holds the CA's root, so those are retried with backoff
 * until config.onceTimeoutMs; a refusal (bad token, wrong identity) fails at once. The error thrown names
 * the last problem in one line.
 */
export async function fetchOnce(config: AgentConfig, deps: FetchOnceDeps = {}): Promise<Svid> {
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? keepAliveTimers;
  const random = deps.random ?? Math.random;
  const timeoutMs = config.onceTimeoutMs ?? parseDuration(AGENT_DEFAULTS.onceTimeout);
  const deadline = clock.now() + timeoutMs;
  const store = new SvidStore(clock);
  // One CA call never outlasts the whole budget.
  const fetchSvid = deps.fetchSvid ?? svidFetcherFor(config, workloadSpiffeId(config), clock, store, Math.min(CA_TIMEOUT_MS, timeoutMs));
  const problems = new ProblemLog(deps.logger ?? silentLogger);
  for (let attempt = 0; ; attempt++) {
    try {
      const svid = await fetchSvid();
      if (config.outDir) await writeSvidFiles(config.outDir, svid);
      return svid;
    } catch (err) {
      if (!worthWaitingFor(err)) throw err;
      const left = deadline - clock.now();
      if (left <= 0) throw new MeshidError(err.code, `no SVID within ${formatDuration(timeoutMs)} (--once-timeout): ${err.message}`, 503);
      const asked = err instanceof CaError ? err.retryAfterMs : undefined;
      const delay = Math.min(asked === undefined ? retryDelay(attempt, random(), 0, null, deps.backoff) : retryAfterDelay(asked, random(), 0, null), left);
      problems.report(err.code, err.message, { retryInMs: delay });
      await new Promise<void>((resolve) => timers.after(delay, resolve));
    }
  }
}

/** A CA that is down or overloaded, or one the bundle does not trust yet; not a refusal. */
function worthWaitingFor(err: unknown): err is MeshidError {
  return (err instanceof CaError && err.transient) || (isMeshidError(err) && err.code === 'no_trust_bundle');
}

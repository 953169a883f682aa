import { isMeshidError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export interface StartupRetryOptions {
  retryMs: number;
  log: Logger;
  /** Told each failure, for /readyz. */
  onFailure: (reason: string) => void;
}

/** The API server unreachable or refusing (RBAC not applied yet), issuer discovery down: common while an install is applied. */
const UNAVAILABLE = new Set(['ca_store_unavailable', 'oidc_discovery_failed']);

/**
 * Runs a startup step until it succeeds, retrying only while the cluster is unavailable. Anything
 * else (broken CA material, say) fails at once, so the pod's restarts and logs show it.
 */
export async function retryStartup<T>(what: string, step: () => Promise<T>, o: StartupRetryOptions): Promise<T> {
  let last = '';
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!isMeshidError(err) || !UNAVAILABLE.has(err.code)) throw err;
      const reason = `cannot ${what} yet: ${err.message}`;
      // Once per distinct reason: the API server may stay away for a while.
      if (reason !== last) o.log.warn({ code: err.code, reason: err.message }, `cannot ${what} yet; retrying`);
      last = reason;
      o.onFailure(reason);
      await new Promise((r) => setTimeout(r, o.retryMs));
    }
  }
}

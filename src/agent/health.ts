import { READY_PATH } from '../common/pod-contract.js';
import type { Handler } from './http-server.js';
import { reply } from './http-server.js';
import type { SvidStore } from './svid-store.js';

/**
 * Port 15021: ready only while an unexpired SVID is held and, where the agent runs a proxy, the proxy is up.
 * The answer says which condition failed, for `kubectl describe pod`.
 */
export function readinessHandler(store: SvidStore, proxyReady?: () => Promise<boolean>, lastProblem: () => string | null = () => null): Handler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== READY_PATH) return reply(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
    const svid = store.current();
    if (!svid) {
      const why = lastProblem();
      return reply(res, 503, `not ready: no valid SVID held${why ? ` (${why})` : ''}\n`);
    }
    if (proxyReady && !(await proxyReady())) return reply(res, 503, 'not ready: the proxy is not ready\n');
    reply(res, 200, `ready: ${svid.spiffeId} until ${new Date(svid.notAfter).toISOString()}\n`);
  };
}

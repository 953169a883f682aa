import { APP_HEALTH_PREFIX, type AppProbe } from '../common/app-probes-env.js';
import type { Handler } from './http-server.js';
import { reply } from './http-server.js';
import { grpcProbe, httpProbe, tcpProbe, type ProbeResult } from './probe-runners.js';

export function runProbe(p: AppProbe): Promise<ProbeResult> {
  if (p.kind === 'http') return httpProbe(p, p.timeoutMs);
  if (p.kind === 'tcp') return tcpProbe(p, p.timeoutMs);
  return grpcProbe(p, p.timeoutMs);
}

export function isAppHealthRequest(path: string): boolean {
  return path.startsWith(APP_HEALTH_PREFIX);
}

/** GET /app-health/<container>/<probe> on 15020: runs the original probe against the app and relays the verdict. */
export function appProbeHandler(probes: Map<string, AppProbe>): Handler {
  return async (req, res) => {
    // Keys are the request paths themselves; container names are DNS labels, so nothing needs decoding.
    const path = (req.url ?? '').split('?')[0]!;
    const probe = probes.get(path);
    if (!probe) return reply(res, 404, `no probe configured for ${path.slice(0, 200)}\n`);
    const result = await runProbe(probe);
    reply(res, result.status, `${result.ok ? 'ok' : 'failed'}: ${result.detail}\n`);
  };
}

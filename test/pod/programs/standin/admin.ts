import { createServer, type Server } from 'node:http';
import type { HostPort } from './bootstrap-plan.js';

/**
 * Envoy's admin `/ready`: 200 `LIVE` once initialisation finished (here: every secret arrived), else 503
 * with the server state, as Envoy answers it. Nothing else of the admin API is offered.
 */
export function startAdmin(addr: HostPort, live: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/ready') {
      const ok = live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'LIVE\n' : 'PRE_INITIALIZING\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('envoy-standin admin serves only GET /ready\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot bind admin address '${addr.address}:${addr.port}': ${err.code ?? err.message}`)));
    server.listen(addr.port, addr.address, () => resolve(server));
  });
}

import { fastify, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { installErrorHandling } from '../common/http-errors.js';
import type { Logger } from '../common/log.js';

/** Plain HTTP on the monitoring port: Prometheus scrapes and kubelet probes need no TLS. */
export function monitoringServer(registry: Registry, ready: () => string | null, logger: Logger): FastifyInstance {
  const app = fastify({ logger: false });
  installErrorHandling(app, logger);
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const notReady = ready();
    if (notReady) return reply.code(503).send({ status: 'not_ready', reason: notReady });
    return { status: 'ready' };
  });
  return app;
}

import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request arrived; read by the latency histograms. */
    meshidStartedAt: number;
  }
}

/**
 * Fastify's reply.elapsedTime is 0 unless its request logging is on, so the start is taken here.
 * A number field on the request keeps the cost to one clock read; idempotent so several routes on one app can share it.
 */
export function decorateStartTime(app: FastifyInstance): void {
  if (!app.hasRequestDecorator('meshidStartedAt')) app.decorateRequest('meshidStartedAt', 0);
}

/** For an onRequest hook: the first point at which the route sees the request. */
export function markStart(req: FastifyRequest): void {
  req.meshidStartedAt = performance.now();
}

export function secondsSinceStart(req: FastifyRequest): number {
  return (performance.now() - req.meshidStartedAt) / 1000;
}

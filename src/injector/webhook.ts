import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorBody, isMeshidError } from '../common/errors.js';
import { admit, parseReview, reviewOf } from './admission.js';
import type { InjectorConfig } from './config.js';
import { injectorMetrics, type InjectorMetrics } from './metrics.js';

/** Real reviews of pods with huge env lists stay far below this; the API server caps requests at 3 MiB. */
export const INJECT_BODY_LIMIT = 8 * 1024 * 1024;

export interface InjectorDeps {
  config: InjectorConfig;
  registry: Registry;
  logger: Logger;
}

/** Adds `POST /inject` (AdmissionReview v1) to an HTTPS fastify server the caller owns. */
export function registerInjector(app: FastifyInstance, deps: InjectorDeps): void {
  const metrics = injectorMetrics(deps.registry);
  const log = deps.logger.child({ component: 'injector' });
  app.route({
    method: 'POST',
    url: '/inject',
    bodyLimit: INJECT_BODY_LIMIT,
    onRequest: async (req, reply) => {
      metrics.requests.inc();
      // Checked before the body is read: fastify's text/plain parser would otherwise accept it.
      if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
        metrics.failed.inc({ reason: 'unsupported_media_type' });
        return reply.code(415).send(errorBody('unsupported_media_type', 'send the AdmissionReview as application/json'));
      }
    },
    errorHandler: (err, _req, reply) => sendRequestError(err, reply, metrics, log),
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const end = metrics.duration.startTimer();
      try {
        let request;
        try {
          request = parseReview(req.body);
        } catch (err) {
          if (!isMeshidError(err)) throw err;
          metrics.failed.inc({ reason: err.code });
          return reply.code(400).send(errorBody(err.code, err.message));
        }
        const { response, outcome } = admit(request, deps.config);
        const where = { uid: request.uid, namespace: request.namespace, dryRun: request.dryRun };
        if (outcome.kind === 'injected') {
          if (!outcome.dryRun) metrics.injected.inc();
          log.debug({ ...where, patchBytes: outcome.patchBytes }, 'pod injected');
        } else if (outcome.kind === 'skipped') {
          metrics.skipped.inc({ reason: outcome.reason });
        } else {
          metrics.failed.inc({ reason: outcome.reason });
          log.info({ ...where, reason: outcome.reason }, `pod denied: ${outcome.message}`);
        }
        return reply.code(200).send(reviewOf(response));
      } finally {
        end();
      }
    },
  });
}

const FASTIFY_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large', `the AdmissionReview is larger than ${INJECT_BODY_LIMIT} bytes`],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty_body', 'the request body is empty; send an AdmissionReview'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'send the AdmissionReview as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_content_length', 'Content-Length does not match the body'],
};

/** Errors raised before the handler runs (body reading and parsing), in the project's error shape. */
function sendRequestError(err: FastifyError, reply: FastifyReply, metrics: InjectorMetrics, log: Logger): FastifyReply {
  const known = FASTIFY_ERRORS[err.code];
  let [status, code, message] = known ?? [500, 'internal_error', 'the injector failed; see the control plane log'];
  if (!known && err.statusCode === 400) [status, code, message] = [400, 'malformed_json', 'the request body is not valid JSON'];
  if (status === 500) log.error({ err }, 'injector request failed');
  metrics.failed.inc({ reason: code });
  return reply.code(status).send(errorBody(code, message));
}

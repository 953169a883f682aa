import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorBody, isMeshidError } from '../common/errors.js';
import { classifyError } from '../common/http-errors.js';
import { decorateStartTime, markStart, secondsSinceStart } from '../common/request-timer.js';
import { admit, parseReview, reviewJson, reviewOf, type AdmissionRequest, type AdmissionResponse } from './admission.js';
import type { InjectorConfig } from './config.js';
import { injectorMetrics, type InjectorMetrics } from './metrics.js';
import { REVIEW_REQUEST_SCHEMA } from './review-schema.js';

/** Real reviews of pods with huge env lists stay far below this; the API server caps requests at 3 MiB. */
export const INJECT_BODY_LIMIT = 8 * 1024 * 1024;

export interface InjectorDeps {
  config: InjectorConfig;
  registry: Registry;
  logger: Logger;
}

/**
 * The route declares REVIEW_REQUEST_SCHEMA and parseReview enforces it (its own Ajv, no coercion, messages that
 * name the field), handing the handler the request. Responses are not schema-serialized: reviewJson writes the
 * review, copying the base64 patch in without escaping it, and errors are errorBody's fixed shape.
 */
const validateReview = (body: unknown) => {
  try {
    return { value: parseReview(body) };
  } catch (err) {
    if (!isMeshidError(err)) throw err;
    return { error: err };
  }
};

const serializeReview = (review: { response: AdmissionResponse }) => reviewJson(review.response);

/** Adds `POST /inject` (AdmissionReview v1) to an HTTPS fastify server the caller owns. */
export function registerInjector(app: FastifyInstance, deps: InjectorDeps): void {
  const metrics = injectorMetrics(deps.registry);
  const log = deps.logger.child({ component: 'injector' });
  decorateStartTime(app);
  app.route<{ Body: AdmissionRequest }>({
    method: 'POST',
    url: '/inject',
    bodyLimit: INJECT_BODY_LIMIT,
    schema: { body: REVIEW_REQUEST_SCHEMA },
    validatorCompiler: () => validateReview,
    serializerCompiler: ({ httpStatus }) => (httpStatus === '200' ? serializeReview : JSON.stringify),
    onRequest: (req, reply, done) => {
      markStart(req);
      metrics.requests.inc();
      // Checked before the body is read: fastify's text/plain parser would otherwise accept it.
      if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
        metrics.failed.inc({ reason: 'unsupported_media_type' });
        reply.code(415).send(errorBody('unsupported_media_type', 'send the AdmissionReview as application/json'));
        return;
      }
      done();
    },
    errorHandler: (err, _req, reply) => sendRequestError(err, reply, metrics, log),
    handler: async (req, reply) => {
      const request = req.body;
      const { response, outcome } = admit(request, deps.config);
      if (outcome.kind === 'injected') {
        if (!outcome.dryRun) metrics.injected.inc();
        log.debug({ uid: request.uid, namespace: request.namespace, dryRun: request.dryRun, patchBytes: outcome.patchBytes }, 'pod injected');
      } else if (outcome.kind === 'skipped') {
        metrics.skipped.inc({ reason: outcome.reason });
      } else {
        metrics.failed.inc({ reason: outcome.reason });
        log.info({ uid: request.uid, namespace: request.namespace, dryRun: request.dryRun, reason: outcome.reason }, `pod denied: ${outcome.message}`);
      }
      reply.code(200).send(reviewOf(response));
      // From the first byte received to the last one handed to the socket.
      metrics.duration.observe(secondsSinceStart(req));
      return reply;
    },
  });
}

/** Errors raised before the handler runs (body reading and parsing), with the codes every meshid server uses. */
function sendRequestError(err: FastifyError, reply: FastifyReply, metrics: InjectorMetrics, log: Logger): FastifyReply {
  const e = classifyError(err);
  if (e.status >= 500) log.error({ err }, 'injector request failed');
  metrics.failed.inc({ reason: e.code });
  return reply.code(e.status).send(errorBody(e.code, e.message));
}

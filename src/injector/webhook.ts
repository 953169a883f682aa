import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errorBody, isMeshidError } from '../common/errors.js';
import { decorateStartTime, markStart, secondsSinceStart } from '../common/request-timer.js';
import { admit, parseReview, reviewJson, reviewOf, type AdmissionRequest, type AdmissionResponse } from './admission.js';
import type { InjectorConfig } from './config.js';
import { injectorMetrics, type InjectorMetrics } from './metrics.js';

/** Real reviews of pods with huge env lists stay far below this; the API server caps requests at 3 MiB. */
export const INJECT_BODY_LIMIT = 8 * 1024 * 1024;

export interface InjectorDeps {
  config: InjectorConfig;
  registry: Registry;
  logger: Logger;
}

/** The envelope the API server sends; `request.object` is the pod, checked by the injection itself. */
const REVIEW_REQUEST_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 128 },
        kind: { type: 'object', required: ['version', 'kind'], properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } } },
        subResource: { type: ['string', 'null'] },
        namespace: { type: ['string', 'null'] },
        operation: { type: ['string', 'null'] },
        object: {},
        dryRun: {},
      },
    },
  },
} as const;

const REVIEW_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        patchType: { type: 'string' },
        patch: { type: 'string', contentEncoding: 'base64' },
        status: { type: 'object', properties: { code: { type: 'integer' }, message: { type: 'string' } } },
      },
    },
  },
} as const;

const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

/**
 * parseReview enforces REVIEW_REQUEST_SCHEMA, naming the field at fault and with no type coercion
 * (fastify's shared Ajv would turn a numeric uid into a string), and hands the handler the request.
 */
const validateReview = (body: unknown) => {
  try {
    return { value: parseReview(body) };
  } catch (err) {
    if (!isMeshidError(err)) throw err;
    return { error: err };
  }
};

/** The review is written by reviewJson, which copies the base64 patch in without escaping it. */
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
    schema: { body: REVIEW_REQUEST_SCHEMA, response: { 200: REVIEW_RESPONSE_SCHEMA, '4xx': ERROR_SCHEMA, '5xx': ERROR_SCHEMA } },
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
  if (isMeshidError(err)) [status, code, message] = [err.status, err.code, err.message];
  else if (!known && err.statusCode === 400) [status, code, message] = [400, 'malformed_json', 'the request body is not valid JSON'];
  if (status === 500) log.error({ err }, 'injector request failed');
  metrics.failed.inc({ reason: code });
  return reply.code(status).send(errorBody(code, message));
}

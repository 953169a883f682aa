import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from './log.js';
import { errorBody, isMeshidError, MeshidError } from './errors.js';

/** fastify's own error codes, mapped to this project's stable codes and statuses. */
const FASTIFY_CODES: Record<string, { code: string; status: number; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', status: 413, message: 'the request body is larger than this endpoint accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', status: 415, message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'empty_body', status: 400, message: 'the request body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', status: 400, message: 'the request body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', status: 400, message: 'the Content-Length does not match the body' },
};

/** JSON.parse, failing with the same codes and messages as fastify's own parser's errors map to above. */
export function parseJsonBody(body: string): unknown {
  const refuse = (fastifyCode: string) => {
    const e = FASTIFY_CODES[fastifyCode]!;
    return new MeshidError(e.code, e.message, e.status);
  };
  if (body.length === 0) throw refuse('FST_ERR_CTP_EMPTY_JSON_BODY');
  try {
    return JSON.parse(body);
  } catch {
    throw refuse('FST_ERR_CTP_INVALID_JSON_BODY');
  }
}

export interface ErrorReply {
  status: number;
  code: string;
  message: string;
}

/** Classifies any error thrown while serving a request; unknown errors become a 500 with no detail. */
export function classifyError(err: FastifyError | Error): ErrorReply {
  if (isMeshidError(err)) return { status: err.status, code: err.code, message: err.message };
  const f = err as FastifyError;
  if (f.validation) return { status: 400, code: 'invalid_request', message: `the request ${f.validationContext ?? 'body'} ${f.validation.map((v) => `${v.instancePath || ''} ${v.message}`.trim()).join('; ')}` };
  const known = f.code ? FASTIFY_CODES[f.code] : undefined;
  if (known) return known;
  if (err instanceof SyntaxError || f.statusCode === 400) return { status: 400, code: 'invalid_json', message: 'the request body is not valid JSON' };
  if (f.statusCode && f.statusCode >= 400 && f.statusCode < 500) return { status: f.statusCode, code: 'invalid_request', message: 'the request was not understood' };
  return { status: 500, code: 'internal_error', message: 'the server failed to handle the request; see its logs' };
}

/**
 * Every error answered as `{"error":{"code","message"}}`; stacks only ever go to the log.
 * Only JSON bodies are accepted: fastify's default text/plain parser would let a wrong content
 * type through as a string, where the caller deserves a 415.
 */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((err, req, reply) => {
    const e = classifyError(err as FastifyError);
    if (e.status >= 500) logger.error({ err, url: req.url }, 'request failed');
    void reply.code(e.status).send(errorBody(e.code, e.message));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.slice(0, 100)}`));
  });
}

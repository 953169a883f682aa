import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../common/clock.js';
import { MeshidError } from '../common/errors.js';
import { classifyError } from '../common/http-errors.js';
import type { Logger } from '../common/log.js';
import type { CertificateAuthority } from './authority.js';
import type { TokenVerifier } from './auth/verifier.js';
import { issueWorkloadCertificate, type IssueRequest } from './issue.js';
import type { CaMetrics } from './metrics.js';
import type { TtlPolicy } from './ttl.js';

export interface CaApiDeps {
  authority: CertificateAuthority;
  verifier: TokenVerifier;
  trustDomain: string;
  ttl: TtlPolicy;
  clock: Clock;
  random: (n: number) => Buffer;
  metrics: CaMetrics;
  /** The audit log: one line per request, never a key, token or CSR. */
  audit: Logger;
}

/** A CSR is ~1 KB (RSA-4096 under 2 KB); anything far larger is not a certificate request. */
export const CA_BODY_LIMIT = 64 * 1024;

const bodySchema = {
  type: 'object',
  required: ['csr'],
  additionalProperties: false,
  properties: {
    csr: { type: 'string', minLength: 1, maxLength: 32 * 1024 },
    ttlSeconds: { type: 'integer', minimum: 1, maximum: 10 * 365 * 86400 },
  },
} as const;

const responseSchema = {
  200: {
    type: 'object',
    properties: {
      spiffeId: { type: 'string' },
      certChain: { type: 'array', items: { type: 'string' } },
      trustBundle: { type: 'array', items: { type: 'string' } },
      expiresAt: { type: 'string' },
    },
  },
} as const;

export function registerCaApi(app: FastifyInstance, deps: CaApiDeps): void {
  const callers = new WeakMap<FastifyRequest, string>();
  app.post<{ Body: IssueRequest }>(
    '/v1/certificates',
    {
      bodyLimit: CA_BODY_LIMIT,
      schema: { body: bodySchema, response: responseSchema },
      // Runs for every refusal, including bodies that fail the schema before the handler sees them.
      onError: async (req, reply, err) => {
        const result = classifyError(err).code;
        record(deps, result, reply.elapsedTime);
        deps.audit.info({ event: 'certificate_refused', spiffeId: callers.get(req), result }, 'refused');
      },
    },
    async (req, reply) => {
      const token = bearerToken(req.headers.authorization);
      const caller = await deps.verifier.verify(token);
      callers.set(req, `spiffe://${deps.trustDomain}/ns/${caller.namespace}/sa/${caller.serviceAccount}`);
      const issued = issueWorkloadCertificate(req.body, caller, {
        ca: deps.authority.current(),
        trustDomain: deps.trustDomain,
        ttl: deps.ttl,
        now: deps.clock.now(),
        random: deps.random,
      });
      record(deps, 'issued', reply.elapsedTime);
      deps.audit.info({ event: 'certificate_issued', spiffeId: issued.spiffeId, serial: issued.serial, expiresAt: issued.expiresAt, result: 'issued' }, 'issued');
      return { spiffeId: issued.spiffeId, certChain: issued.certChain, trustBundle: issued.trustBundle, expiresAt: issued.expiresAt };
    },
  );
}

function record(deps: CaApiDeps, result: string, elapsedMs: number): void {
  deps.metrics.issued.inc({ result });
  deps.metrics.latency.observe({ result }, elapsedMs / 1000);
}

function bearerToken(header: string | undefined): string {
  if (!header) throw new MeshidError('token_missing', 'send the ServiceAccount token as "Authorization: Bearer <token>"', 401);
  const m = /^Bearer ([^\s]+)$/i.exec(header);
  if (!m) throw new MeshidError('token_malformed', 'the Authorization header must be "Bearer <token>"', 401);
  return m[1]!;
}

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.js';
import { MeshidError } from '../../common/errors.js';
import { classifyError } from '../../common/http-errors.js';
import { fieldByFieldLogger, type Logger } from '../../common/log.js';
import { workloadSpiffeId } from '../../pki/spiffe.js';
import { recordIssued, type CertificateAuthority } from '../authority.js';
import type { CaMaterial } from '../material.js';
import { bearerToken } from '../auth/bearer.js';
import type { TokenVerifier } from '../auth/verifier.js';
import type { CaMetrics } from '../metrics.js';
import {
  JWT_BUNDLE_PATH, JWT_SVID_PATH, MAX_AUDIENCE_LENGTH, MAX_AUDIENCES, MAX_JWT_TTL_SECONDS, MIN_JWT_TTL_SECONDS,
  type JwtSvidRequest, type JwtSvidResponse,
} from '../../common/jwt-svid-api.js';
import type { JwtKeys } from './keys.js';
import { jwtSvidTimes, signJwtSvid } from './svid.js';

export interface JwtApiDeps {
  authority: CertificateAuthority;
  verifier: TokenVerifier;
  trustDomain: string;
  clock: Clock;
  /** The longest workload credential: no JWT-SVID outlives it (the old JWT key retires with the old root). */
  maxWorkloadTtlMs: number;
  /** How long a verifier may cache the JWKS: well inside the bundle propagation delay, so a staged key is seen before it signs. */
  bundleMaxAgeSeconds: number;
  metrics: CaMetrics;
  /** The audit log: one line per request, never a token. */
  audit: Logger;
}

/** 16 audiences of 256 characters, each escaped as \uXXXX at worst, fit; anything larger is not a JWT-SVID request. */
export const JWT_BODY_LIMIT = 32 * 1024;

const bodySchema = {
  type: 'object',
  required: ['audience'],
  additionalProperties: false,
  properties: {
    audience: { type: 'array', minItems: 1, maxItems: MAX_AUDIENCES, items: { type: 'string', minLength: 1, maxLength: MAX_AUDIENCE_LENGTH } },
    ttlSeconds: { type: 'integer', minimum: MIN_JWT_TTL_SECONDS, maximum: MAX_JWT_TTL_SECONDS },
  },
} as const;

const responseSchema = {
  200: { type: 'object', properties: { spiffeId: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: 'string' } } },
} as const;

/** POST /v1/jwt-svids (bearer ServiceAccount token, as for certificates) and GET /v1/jwt-bundle (the JWKS, no auth). */
export function registerJwtApi(app: FastifyInstance, deps: JwtApiDeps): void {
  const audit = fieldByFieldLogger(deps.audit);
  const bundles = new WeakMap<JwtKeys, { body: string; etag: string }>();
  const callers = new WeakMap<FastifyRequest, string>();

  app.post<{ Body: JwtSvidRequest }>(
    JWT_SVID_PATH,
    {
      bodyLimit: JWT_BODY_LIMIT,
      schema: { body: bodySchema, response: responseSchema },
      // Runs for every refusal, including bodies that fail the schema before the handler sees them.
      onError: async (req, _reply, err) => {
        const result = classifyError(err).code;
        deps.metrics.jwtSvids.inc({ result });
        audit.info({ event: 'jwt_svid_refused', spiffeId: callers.get(req), result }, 'refused');
      },
    },
    async (req): Promise<JwtSvidResponse> => {
      const caller = await deps.verifier.verify(bearerToken(req.headers.authorization));
      const spiffeId = workloadSpiffeId({ trustDomain: deps.trustDomain, namespace: caller.namespace, serviceAccount: caller.serviceAccount });
      callers.set(req, spiffeId);
      const ca = deps.authority.current();
      const keys = signingKeys(deps.authority, ca);
      const { iat, exp } = jwtSvidTimes({ ttlSeconds: req.body.ttlSeconds, callerExpiresAt: caller.expiresAt, maxWorkloadTtlMs: deps.maxWorkloadTtlMs, now: deps.clock.now() });
      const token = await signJwtSvid(keys, { sub: spiffeId, aud: req.body.audience, iat, exp });
      // The JWT key retires with the signing CA: its retire step waits for the JWT-SVIDs it signed, as for its leaves.
      await recordIssued(deps.authority, ca, exp * 1000);
      const expiresAt = new Date(exp * 1000).toISOString();
      deps.metrics.jwtSvids.inc({ result: 'issued' });
      audit.info({ event: 'jwt_svid_issued', spiffeId, audience: req.body.audience, kid: keys.kid, expiresAt, result: 'issued' }, 'issued');
      return { spiffeId, token, expiresAt };
    },
  );

  app.get(JWT_BUNDLE_PATH, async (req, reply) => {
    const keys = signingKeys(deps.authority);
    let cached = bundles.get(keys);
    if (!cached) {
      const body = JSON.stringify(keys.bundle);
      bundles.set(keys, (cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }));
    }
    void reply.header('cache-control', `public, max-age=${deps.bundleMaxAgeSeconds}`).header('etag', cached.etag);
    if (req.headers['if-none-match'] === cached.etag) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(cached.body);
  });
}

function signingKeys(authority: CertificateAuthority, ca: CaMaterial = authority.current()): JwtKeys {
  const keys = ca.jwt;
  if (!keys) throw new MeshidError('jwt_key_unavailable', 'the CA material has no JWT signing key and this CA may not add one; JWT-SVIDs are not served', 503);
  return keys;
}

/** Half the propagation delay (at most 5 min): a key staged at prepare reaches cached verifiers before it signs. */
export function jwksMaxAgeSeconds(bundlePropagationDelayMs: number): number {
  return Math.max(0, Math.min(300, Math.floor(bundlePropagationDelayMs / 2000)));
}

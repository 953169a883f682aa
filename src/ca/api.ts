import type { FastifyInstance } from 'fastify';
import { errorBody } from '../common/errors.js';
import { classifyError, parseJsonBody } from '../common/http-errors.js';
import { fieldByFieldLogger } from '../common/log.js';
import { decorateStartTime, markStart, secondsSinceStart } from '../common/request-timer.js';
import { workloadSpiffeId } from '../pki/spiffe.js';
import { recordIssued } from './authority.js';
import { bearerToken } from './auth/bearer.js';
import { issueWorkloadCertificate, type IssueRequest, type IssuedCertificate } from './issue.js';
import type { CaMaterial } from './material.js';
import type { CaMetrics } from './metrics.js';
import type { InFlightLimit } from './overload.js';
import type { IssuerDeps } from './issuer-deps.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The SPIFFE ID an accepted token names, for the audit line if the request is then refused; '' before. */
    meshidCaller: string;
  }
}

export interface CaApiDeps extends IssuerDeps {
  metrics: CaMetrics;
  limit: InFlightLimit;
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

export function registerCaApi(app: FastifyInstance, deps: CaApiDeps): void {
  const random = randomPool(deps.random);
  const json = new WeakMap<CaMaterial, CaJson>();
  const audit = fieldByFieldLogger(deps.audit);
  const issuedCount = deps.metrics.issued.labels('issued');
  const issuedLatency = deps.metrics.latency.labels('issued');
  const overloaded = deps.metrics.issued.labels('ca_overloaded');
  // A scope of its own, so the JSON parser below serves this route only.
  void app.register(async (scope) => {
    // A request field rather than a WeakMap: a WeakMap entry per request costs the GC more than the rest of the bookkeeping.
    scope.decorateRequest('meshidCaller', '');
    decorateStartTime(scope);
    // The body schema refuses any property but csr and ttlSeconds, "__proto__" and "constructor"
    // included, so the default parser's scan of every body for them is work for nothing.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    scope.post<{ Body: IssueRequest }>(
      '/v1/certificates',
      {
        bodyLimit: CA_BODY_LIMIT,
        // No response schema: the handler sends responseJson's string (the CA's chain and bundle pre-serialized once).
        schema: { body: bodySchema },
        onRequest: (req, reply, done) => {
          markStart(req);
          if (!deps.limit.tryAcquire()) {
            // Not audited line by line: a shed burst would flood the log; the counter says how many.
            overloaded.inc();
            const wait = deps.limit.retryAfterSeconds();
            void reply.code(429).header('retry-after', String(wait))
              .send(errorBody('ca_overloaded', `the CA is answering ${deps.limit.limit} requests already; retry in ${wait}s (Retry-After)`));
            return;
          }
          reply.raw.once('close', () => deps.limit.release());
          done();
        },
        // Runs for every refusal, including bodies that fail the schema before the handler sees them.
        onError: async (req, _reply, err) => {
          const result = classifyError(err).code;
          deps.metrics.issued.inc({ result });
          deps.metrics.latency.observe({ result }, secondsSinceStart(req));
          audit.info({ event: 'certificate_refused', spiffeId: req.meshidCaller || undefined, result }, 'refused');
        },
      },
      async (req, reply) => {
        const token = bearerToken(req.headers.authorization);
        const caller = await deps.verifier.verify(token);
        req.meshidCaller = workloadSpiffeId({ trustDomain: deps.trustDomain, namespace: caller.namespace, serviceAccount: caller.serviceAccount });
        const ca = deps.authority.current();
        const issued = issueWorkloadCertificate(req.body, caller, { ca, trustDomain: deps.trustDomain, ttl: deps.ttl, now: deps.clock.now(), random });
        await recordIssued(deps.authority, ca, Date.parse(issued.expiresAt));
        issuedCount.inc();
        audit.info({ event: 'certificate_issued', spiffeId: issued.spiffeId, serial: issued.serial, expiresAt: issued.expiresAt, result: 'issued' }, 'issued');
        let fragments = json.get(ca);
        if (!fragments) json.set(ca, (fragments = caJson(ca)));
        reply.type('application/json; charset=utf-8').send(responseJson(issued, fragments));
        // After send, so the time includes handing the response to the socket.
        issuedLatency.observe(secondsSinceStart(req));
        return reply;
      },
    );
  });
}

/** The CA's part of every response (chain after the leaf, trust bundle), JSON-encoded once per CA material. */
interface CaJson {
  chainAfterLeaf: string;
  trustBundle: string;
}

function caJson(ca: CaMaterial): CaJson {
  return { chainAfterLeaf: ca.chain.map((pem) => `,${JSON.stringify(pem)}`).join(''), trustBundle: JSON.stringify(ca.roots) };
}

/**
 * The 200 body of responseSchema, put together from the pieces: the PEMs are most of its bytes, and
 * escaping the same CA PEMs for every response cost more than all the rest of the serialization.
 */
function responseJson(issued: IssuedCertificate, ca: CaJson): string {
  return `{"spiffeId":${JSON.stringify(issued.spiffeId)},"certChain":[${JSON.stringify(issued.leafPem)}${ca.chainAfterLeaf}],` +
    `"trustBundle":${ca.trustBundle},"expiresAt":${JSON.stringify(issued.expiresAt)}}`;
}

/** Serials draw 16 bytes per certificate; one call for many is far cheaper than a call each. */
export function randomPool(random: (n: number) => Buffer, size = 4096): (n: number) => Buffer {
  let pool: Buffer = Buffer.alloc(0);
  let at = 0;
  return (n) => {
    if (n > size) return random(n);
    if (at + n > pool.length) {
      pool = random(size);
      at = 0;
    }
    at += n;
    return pool.subarray(at - n, at);
  };
}

import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { fieldByFieldLogger, type Logger } from '../../common/log.js';
import { randomPool } from '../api.js';
import { CA_AUDIENCE, ISTIO_CA_AUDIENCE } from '../auth/verifier.js';
import { issueWorkloadCertificate } from '../issue.js';
import type { CaMaterial } from '../material.js';
import { certificateSubject, type ImpersonationPolicy } from './impersonation.js';
import { callToken, certificateAsk } from './metadata.js';
import type { IstioCaMetrics } from './metrics.js';
import type { DecodedRequest, IstioCertificateResponse } from './proto.js';
import { grpcRefusal } from './status.js';
import { recordIssued } from '../authority.js';
import { workloadSpiffeId } from '../../pki/spiffe.js';
import type { IssuerDeps } from '../issuer-deps.js';

/** meshid's own audience is accepted too, so one projected token serves both APIs. */
export const ISTIO_CA_AUDIENCES: readonly string[] = [CA_AUDIENCE, ISTIO_CA_AUDIENCE];

export interface IstioCaDeps extends IssuerDeps {
  impersonation: ImpersonationPolicy;
  metrics: IstioCaMetrics;
  logger: Logger;
}

/** CreateCertificate: the REST API's authentication, SAN and TTL rules, answered as Istio's CA answers. */
export function createCertificateHandler(deps: IstioCaDeps): grpc.handleUnaryCall<DecodedRequest, IstioCertificateResponse> {
  const tails = new WeakMap<CaMaterial, string[]>();
  const issuedCount = deps.metrics.labels('issued');
  // As the REST API does: serials drawn from a pool, audit fields censored by name without walking every field.
  const random = randomPool(deps.random);
  const audit = fieldByFieldLogger(deps.audit);
  return (call, callback) => {
    let spiffeId: string | undefined;
    void (async () => {
      const token = callToken(call.metadata);
      const caller = await deps.verifier.verify(token, ISTIO_CA_AUDIENCES);
      spiffeId = workloadSpiffeId({ trustDomain: deps.trustDomain, namespace: caller.namespace, serviceAccount: caller.serviceAccount });
      const ask = certificateAsk(call.request, deps.trustDomain);
      const subject = await certificateSubject(caller, ask.impersonate, deps.impersonation);
      const ca = deps.authority.current();
      const issued = issueWorkloadCertificate({ csr: ask.csr, ttlSeconds: ask.ttlSeconds }, { ...caller, ...subject }, {
        ca, trustDomain: deps.trustDomain, ttl: deps.ttl, now: deps.clock.now(), random,
      });
      await recordIssued(deps.authority, ca, Date.parse(issued.expiresAt));
      let tail = tails.get(ca);
      if (!tail) tails.set(ca, (tail = chainTail(ca)));
      issuedCount.inc();
      audit.info({
        event: 'certificate_issued', api: 'istio', spiffeId: issued.spiffeId, serial: issued.serial, expiresAt: issued.expiresAt, result: 'issued',
        ...(issued.spiffeId !== spiffeId ? { impersonatedBy: spiffeId } : {}),
      }, 'issued');
      return { cert_chain: [issued.leafPem, ...tail] };
    })().then((response) => callback(null, response), (err: unknown) => {
      const refusal = grpcRefusal(err);
      if (refusal.result === 'internal_error') deps.logger.error({ err }, 'Istio CA call failed');
      deps.metrics.inc({ result: refusal.result });
      audit.info({ event: 'certificate_refused', api: 'istio', spiffeId, result: refusal.result }, 'refused');
      callback({ code: refusal.code, details: refusal.details });
    });
  };
}

/**
 * What follows the leaf in every response: the intermediates, then the one root they chain to, each
 * PEM ending in a newline, as Istio's CA sends it (istio-agent takes the last element as its root).
 */
function chainTail(ca: CaMaterial): string[] {
  const last = ca.chain.length ? new X509Certificate(ca.chain[ca.chain.length - 1]!) : ca.signingCert;
  const issuer = ca.rootCerts.findIndex((root) => last.checkIssued(root));
  const root = ca.roots[issuer >= 0 ? issuer : ca.roots.length - 1]!;
  return [...ca.chain, root].map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
}

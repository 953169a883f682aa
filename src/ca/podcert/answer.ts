import { isMeshidError, MeshidError } from '../../common/errors.js';
import { signCertificate } from '../../pki/certificate.js';
import { parseCsrDer, parsePublicKeyDer } from '../../pki/csr.js';
import { encodePem } from '../../pki/pem.js';
import { workloadSpiffeId } from '../../pki/spiffe.js';
import { CLOCK_SKEW_MS, serialFrom, workloadTemplate } from '../../pki/templates.js';
import type { CaMaterial } from '../material.js';
import {
  answeredAs, API_DEFAULT_LIFETIME_S, API_MIN_LIFETIME_S, apiTime, CONDITION, type PodCertificateRequest, type PodCertificateRequestStatus,
} from './request.js';

export interface SignerContext {
  signerName: string;
  ca: CaMaterial;
  trustDomain: string;
  /** --max-workload-cert-ttl: pod certificates are capped by it like every other leaf, so rotation's retire wait covers them. */
  maxTtlMs: number;
  now: number;
  random: (n: number) => Buffer;
  /** Why configuration refuses this identity, or undefined when it may have one. */
  excluded?: (namespace: string, serviceAccount: string) => string | undefined;
}

export type Answer =
  | { kind: 'skip'; why: 'other-signer' | 'answered' }
  | { kind: 'answer'; outcome: 'Issued' | 'Denied' | 'Failed'; reason: string; status: PodCertificateRequestStatus; spiffeId?: string };

/** The API server refuses a refresh time within ten minutes of either end of the certificate's life. */
const REFRESH_MARGIN_MS = 600_000;
/** beginRefreshAt falls in [40%, 60%) of the lifetime, so a fleet's pods do not all come back at once. */
const REFRESH_JITTER = 0.2;

/**
 * What meshid's signer answers to one PodCertificateRequest: nothing for another signer's request or one
 * already answered; otherwise the single status write that answers it. Identity comes from the fields the
 * API server verified (namespace, service account); the key from the stub PKCS#10 request or pkixPublicKey.
 */
export function answerPodCertificate(req: PodCertificateRequest, ctx: SignerContext): Answer {
  if (req.spec?.signerName !== ctx.signerName) return { kind: 'skip', why: 'other-signer' };
  if (answeredAs(req)) return { kind: 'skip', why: 'answered' };
  try {
    return issue(req, ctx);
  } catch (err) {
    if (err instanceof Refusal) return refuse(err.outcome, err.reason, err.message, ctx.now);
    if (isMeshidError(err)) {
      // A kubelet signs its stub request with the key itself, so an unknown signature algorithm means an unsupported key (Ed25519).
      const keyProblem = ['unsupported_key', 'weak_key', 'unsupported_signature_algorithm'].includes(err.code);
      const reason = keyProblem ? 'UnsupportedKeyType' : err.code === 'invalid_identity' ? 'InvalidIdentity' : 'InvalidRequest';
      const hint = keyProblem ? '; meshid signs ECDSAP256 (its default), ECDSAP384, RSA3072 or RSA4096 keys' : '';
      return refuse(CONDITION.denied, reason, `${err.message}${hint}`, ctx.now);
    }
    return refuse(CONDITION.failed, 'InternalError', `meshid could not sign: ${(err as Error).message?.split('\n')[0]?.slice(0, 200)}`, ctx.now);
  }
}

class Refusal extends Error {
  constructor(readonly outcome: 'Denied' | 'Failed', readonly reason: string, message: string) {
    super(message);
  }
}

function issue(req: PodCertificateRequest, ctx: SignerContext): Answer {
  const spec = req.spec!;
  const namespace = req.metadata.namespace ?? '';
  const serviceAccount = spec.serviceAccountName ?? '';
  const spiffeId = workloadSpiffeId({ trustDomain: ctx.trustDomain, namespace, serviceAccount });
  const excluded = ctx.excluded?.(namespace, serviceAccount);
  if (excluded) throw new Refusal(CONDITION.denied, 'IdentityExcluded', excluded);

  const lifetimeMs = grantedLifetimeMs(spec.maxExpirationSeconds, ctx.maxTtlMs);
  const key = subjectKeyOf(spec);
  const now = Math.floor(ctx.now / 1000) * 1000;
  const template = workloadTemplate({
    now, ttlMs: lifetimeMs - CLOCK_SKEW_MS, serial: serialFrom(ctx.random(16)), spiffeId, rsaKey: key.keyInfo.kind === 'rsa', issuerNotAfter: ctx.ca.signer.notAfter,
  });
  const lifetime = template.notAfter - template.notBefore;
  if (lifetime < API_MIN_LIFETIME_S * 1000) {
    throw new Refusal(CONDITION.failed, 'SigningCAExpiring', `the signing CA expires ${apiTime(ctx.ca.signer.notAfter)}, too soon for the one-hour minimum; rotate the CA (meshid ca rotate-root)`);
  }
  const leafPem = encodePem('CERTIFICATE', signCertificate(template, key, ctx.ca.signer));
  const refresh = refreshAt(template.notBefore, template.notAfter, ctx.random(4).readUInt32BE(0) / 2 ** 32);
  return {
    kind: 'answer',
    outcome: CONDITION.issued,
    reason: 'Issued',
    spiffeId,
    status: {
      conditions: [condition(CONDITION.issued, 'Issued', `issued ${spiffeId}, valid until ${apiTime(template.notAfter)}`, ctx.now)],
      certificateChain: [leafPem, ...ctx.ca.chain].join(''),
      notBefore: apiTime(template.notBefore),
      beginRefreshAt: apiTime(refresh),
      notAfter: apiTime(template.notAfter),
    },
  };
}

/** maxExpirationSeconds is a ceiling, not a wish: the leaf gets the lesser of it and the configured maximum. */
export function grantedLifetimeMs(maxExpirationSeconds: unknown, maxTtlMs: number): number {
  const asked = maxExpirationSeconds ?? API_DEFAULT_LIFETIME_S;
  if (typeof asked !== 'number' || !Number.isInteger(asked) || asked < API_MIN_LIFETIME_S) {
    throw new Refusal(CONDITION.denied, 'InvalidRequest', `spec.maxExpirationSeconds must be a whole number of seconds of at least ${API_MIN_LIFETIME_S}`);
  }
  if (maxTtlMs < API_MIN_LIFETIME_S * 1000) {
    throw new Refusal(CONDITION.failed, 'LifetimeBelowMinimum', `--max-workload-cert-ttl is below the one hour a pod certificate must live; raise it to issue pod certificates`);
  }
  return Math.min(asked * 1000, maxTtlMs);
}

/** About half-life, jittered by `r` in [0, 1), on whole seconds, and never within the API's margin of either end. */
export function refreshAt(notBefore: number, notAfter: number, r: number): number {
  const at = notBefore + (notAfter - notBefore) * (0.5 - REFRESH_JITTER / 2 + REFRESH_JITTER * r);
  return Math.min(Math.max(Math.floor(at / 1000) * 1000, notBefore + REFRESH_MARGIN_MS), notAfter - REFRESH_MARGIN_MS);
}

function subjectKeyOf(spec: NonNullable<PodCertificateRequest['spec']>) {
  if (spec.stubPKCS10Request) return parseCsrDer(base64Field(spec.stubPKCS10Request, 'spec.stubPKCS10Request'));
  if (spec.pkixPublicKey) return parsePublicKeyDer(base64Field(spec.pkixPublicKey, 'spec.pkixPublicKey'));
  throw new MeshidError('invalid_csr', 'the request has neither spec.stubPKCS10Request nor spec.pkixPublicKey');
}

function base64Field(text: unknown, field: string): Buffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new MeshidError('invalid_csr', `${field} is not base64`);
  return Buffer.from(text, 'base64');
}

function refuse(outcome: 'Denied' | 'Failed', reason: string, message: string, now: number): Answer {
  return { kind: 'answer', outcome, reason, status: { conditions: [condition(outcome, reason, message, now)] } };
}

function condition(type: string, reason: string, message: string, now: number) {
  return { type, status: 'True' as const, reason, message: message.slice(0, 1024), lastTransitionTime: apiTime(now) };
}

import type { Metadata } from '@grpc/grpc-js';
import { MeshidError } from '../../common/errors.js';
import { parseWorkloadSpiffeId, type WorkloadIdentity } from '../../pki/spiffe.js';
import { bearerToken } from '../auth/bearer.js';
import type { DecodedRequest, StructMessage } from './proto.js';

/** The request metadata key istio-agent's and ztunnel's CA clients use to ask for another workload's certificate. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

/** The bearer token of a call's `authorization` metadata; exactly one value, as an HTTP header would be. */
export function callToken(metadata: Metadata): string {
  const values = metadata.get('authorization');
  if (values.length > 1) throw new MeshidError('token_malformed', 'send exactly one "authorization: Bearer <token>" metadata entry', 401);
  const value = values[0];
  return bearerToken(typeof value === 'string' ? value : undefined);
}

export interface CertificateAsk {
  csr: string;
  /** undefined: the default TTL (Istio's 0 or absent). */
  ttlSeconds?: number;
  /** The workload the caller asks for instead of itself, if any. */
  impersonate?: WorkloadIdentity;
}

/** Checks what a decoded IstioCertificateRequest asks for, refusing anything malformed with a 400 MeshidError. */
export function certificateAsk(decoded: DecodedRequest, trustDomain: string): CertificateAsk {
  if (!decoded.ok) throw new MeshidError('invalid_request', `the request is not an IstioCertificateRequest message (${decoded.reason})`);
  const { csr, validity_duration: validity, metadata } = decoded.request;
  if (!csr) throw new MeshidError('csr_missing', 'the request has no csr (field 1): send the PEM certificate signing request');
  return { csr, ttlSeconds: ttlSeconds(validity), impersonate: impersonated(metadata, trustDomain) };
}

function ttlSeconds(validity: string | number | undefined): number | undefined {
  if (validity === undefined) return undefined;
  const n = Number(validity);
  if (n === 0) return undefined;
  // The REST API's own bound (ttlSeconds), so both APIs refuse the same asks with the same words.
  if (!Number.isSafeInteger(n) || n < 0 || n > 10 * 365 * 86400) {
    throw new MeshidError('invalid_request', `validity_duration ${String(validity).slice(0, 24)} must be a number of seconds from 0 (the default TTL) to ${10 * 365 * 86400}`);
  }
  return n;
}

/** Other metadata keys are ignored, as Istio's CA ignores them. */
function impersonated(metadata: StructMessage | undefined, trustDomain: string): WorkloadIdentity | undefined {
  const value = metadata?.fields?.[IMPERSONATED_IDENTITY];
  if (value === undefined) return undefined;
  if (value.kind !== 'string_value' || typeof value.string_value !== 'string') {
    throw new MeshidError('invalid_metadata', `metadata ${IMPERSONATED_IDENTITY} must be a string, a SPIFFE ID such as spiffe://${trustDomain}/ns/<namespace>/sa/<service-account>`);
  }
  const id = parseWorkloadSpiffeId(value.string_value);
  if (!id) throw new MeshidError('invalid_metadata', `metadata ${IMPERSONATED_IDENTITY} "${value.string_value.slice(0, 100)}" is not a SPIFFE ID of the form spiffe://${trustDomain}/ns/<namespace>/sa/<service-account>`);
  if (id.trustDomain !== trustDomain) throw new MeshidError('identity_mismatch', `metadata ${IMPERSONATED_IDENTITY} names trust domain ${id.trustDomain}; this CA signs for ${trustDomain} only`, 403);
  return id;
}

import { MeshidError } from '../common/errors.js';

/** DNS-1123 label, as Kubernetes requires for namespaces; ServiceAccount names are DNS-1123 subdomains. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_ACCOUNT = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function validateTrustDomain(td: string): string {
  if (!TRUST_DOMAIN.test(td)) {
    throw new MeshidError('invalid_trust_domain', `trust domain "${td.slice(0, 64)}" must be lowercase letters, digits, ".", "-" or "_" (at most 255)`);
  }
  return td;
}

export function validateNamespace(ns: string): string {
  if (!NAMESPACE.test(ns)) throw new MeshidError('invalid_identity', `namespace "${ns.slice(0, 64)}" is not a valid Kubernetes namespace name`);
  return ns;
}

export function validateServiceAccount(sa: string): string {
  if (!SERVICE_ACCOUNT.test(sa)) throw new MeshidError('invalid_identity', `service account "${sa.slice(0, 64)}" is not a valid Kubernetes name`);
  return sa;
}

export function workloadSpiffeId(id: WorkloadIdentity): string {
  validateTrustDomain(id.trustDomain);
  validateNamespace(id.namespace);
  validateServiceAccount(id.serviceAccount);
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function trustDomainSpiffeId(trustDomain: string): string {
  return `spiffe://${validateTrustDomain(trustDomain)}`;
}

/** Parses `spiffe://<td>/ns/<ns>/sa/<sa>`; null for anything else. */
export function parseWorkloadSpiffeId(uri: string): WorkloadIdentity | null {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m || !TRUST_DOMAIN.test(m[1]!) || !NAMESPACE.test(m[2]!) || !SERVICE_ACCOUNT.test(m[3]!)) return null;
  return { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! };
}

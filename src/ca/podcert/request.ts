/**
 * The PodCertificateRequest API (certificates.k8s.io, v1beta1 since Kubernetes 1.35, v1 from 1.37; KEP-4317),
 * as this signer reads it. The kubelet creates one per podCertificate projected volume source, in the pod's
 * namespace, and the API server has checked, before anyone sees it, that:
 * - the pod, service account and node fields name the real pod, scheduled on the node that asked;
 * - the key is RSA 3072/4096, ECDSA P-256/P-384/P-521 or Ed25519, and the requester holds it: v1beta1's
 *   `stubPKCS10Request` is an empty PKCS#10 request signed by the key (its signature checked at admission);
 *   the older `pkixPublicKey` + `proofOfPossession` (a signature over the pod UID) are deprecated but accepted;
 * - `maxExpirationSeconds` is within [3600, 7862400] (defaulted to 86400).
 * A signer answers by one write to the /status subresource: either `certificateChain` (PEM, leaf first) with
 * `notBefore`, `beginRefreshAt` and `notAfter` and an `Issued` condition, or a `Denied` or `Failed` condition.
 * The API server then checks that the chain parses, that its lifetime is at least an hour and at most
 * maxExpirationSeconds, and that beginRefreshAt lies within it; an answered status never changes again.
 */
export interface PodCertificateRequest {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string; [k: string]: unknown };
  spec?: PodCertificateRequestSpec;
  status?: PodCertificateRequestStatus;
}

export interface PodCertificateRequestSpec {
  signerName?: string;
  podName?: string;
  podUID?: string;
  serviceAccountName?: string;
  serviceAccountUID?: string;
  nodeName?: string;
  nodeUID?: string;
  maxExpirationSeconds?: number;
  /** base64 of a DER PKCS#10 request with no subject or extensions: only its key matters. */
  stubPKCS10Request?: string;
  /** base64 of a DER subjectPublicKeyInfo (deprecated in v1beta1). */
  pkixPublicKey?: string;
  proofOfPossession?: string;
  /** Pod authors' free-form hints to the signer; unverified, so never an input to identity. */
  unverifiedUserAnnotations?: Record<string, string>;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface PodCertificateRequestStatus {
  conditions?: Condition[];
  certificateChain?: string;
  notBefore?: string;
  beginRefreshAt?: string;
  notAfter?: string;
}

export const CONDITION = { issued: 'Issued', denied: 'Denied', failed: 'Failed' } as const;
const TERMINAL: ReadonlySet<string> = new Set(Object.values(CONDITION));

/** The answer already given, if any: a request with an Issued, Denied or Failed condition is never touched again. */
export function answeredAs(req: PodCertificateRequest): string | undefined {
  return req.status?.conditions?.find((c) => TERMINAL.has(c.type) && c.status === 'True')?.type;
}

/** The API server's own bounds on a pod certificate's lifetime. */
export const API_MIN_LIFETIME_S = 3600;
export const API_MAX_LIFETIME_S = 7_862_400;
export const API_DEFAULT_LIFETIME_S = 86_400;

/** metav1.Time: RFC 3339, whole seconds. */
export function apiTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

import { TOKEN_AUDIENCE } from '../../common/pod-contract.js';

/** Who a verified ServiceAccount token says the caller is. */
export interface Caller {
  namespace: string;
  serviceAccount: string;
  /** From the token's `kubernetes.io` block when the token is bound to a pod. */
  pod?: { name: string; uid: string };
  /** Token expiry, ms since epoch. */
  expiresAt: number;
}

/**
 * Authenticates a bearer token. Local issuer, cluster JWKS and TokenReview all fit behind this.
 * Rejections are MeshidErrors with status 401 and a code naming what was wrong; never the token itself.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}

/** The audience of the projected token the injector asks the kubelet for. */
export const CA_AUDIENCE = TOKEN_AUDIENCE;

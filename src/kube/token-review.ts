import type { AuthenticationV1Api, V1TokenReviewStatus } from '@kubernetes/client-node';
import { decodeJwt } from 'jose';
import { callerFromClaims, unauthorized } from '../ca/auth/claims.js';
import { CA_AUDIENCE, type Caller, type TokenVerifier } from '../ca/auth/verifier.js';
import { MeshidError } from '../common/errors.js';
import { describeApiError } from './api-errors.js';

const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';
const NODE_NAME = 'authentication.kubernetes.io/node-name';
const NODE_UID = 'authentication.kubernetes.io/node-uid';

export interface TokenReviewVerifierOptions {
  authentication: AuthenticationV1Api;
  audience?: string;
}

/**
 * Asks the API server whether a token is valid (TokenReview): works with any issuer setup, including
 * clusters whose OIDC discovery is not reachable, at the cost of one API call per verification.
 */
export class TokenReviewVerifier implements TokenVerifier {
  private readonly audience: string;

  constructor(private readonly opts: TokenReviewVerifierOptions) {
    this.audience = opts.audience ?? CA_AUDIENCE;
  }

  async verify(token: string, audiences: readonly string[] = [this.audience]): Promise<Caller> {
    if (!token) throw unauthorized('token_malformed', 'the bearer token is empty');
    let status: V1TokenReviewStatus | undefined;
    try {
      const review = await this.opts.authentication.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } },
      });
      status = review.status;
    } catch (err) {
      throw new MeshidError('token_review_unavailable', `cannot review the token with the Kubernetes API: ${describeApiError(err)}`, 503);
    }
    // The server's own error text is not passed on: it is not meant for the caller and could quote the token.
    if (!status?.authenticated) throw unauthorized('token_rejected', 'the Kubernetes API server did not accept the token');
    if (!status.audiences?.some((a) => audiences.includes(a))) {
      const names = audiences.join(' or ');
      throw unauthorized('token_audience_invalid', `the token audience is not ${names}; project the token with audience ${names}`);
    }
    return callerFromClaims(this.claims(status, token));
  }

  /** The same claims a verified JWT would carry, so both verifiers apply one set of identity rules. */
  private claims(status: V1TokenReviewStatus, token: string): Record<string, unknown> {
    const username = status.user?.username ?? '';
    const [, , namespace, name] = username.split(':');
    const extra = status.user?.extra ?? {};
    const podName = extra[POD_NAME]?.[0];
    const podUid = extra[POD_UID]?.[0];
    const nodeName = extra[NODE_NAME]?.[0];
    const nodeUid = extra[NODE_UID]?.[0];
    return {
      sub: username,
      exp: expiryOf(token),
      'kubernetes.io': { namespace, serviceaccount: { name }, ...(podName && podUid ? { pod: { name: podName, uid: podUid } } : {}),
        ...(nodeName ? { node: { name: nodeName, uid: nodeUid } } : {}),
      },
    };
  }
}

/** TokenReview does not report expiry; the API server has authenticated the token, so reading its exp is safe. */
function expiryOf(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

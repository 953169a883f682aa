import { JwksVerifier } from '../ca/auth/jwks-verifier.js';
import type { TokenVerifier } from '../ca/auth/verifier.js';
import type { Clock } from '../common/clock.js';
import type { KubeClients } from '../kube/client.js';
import { clusterIssuer, clusterJwksFetcher } from '../kube/cluster-oidc.js';
import { PodBoundVerifier } from '../kube/pod-check.js';
import { TokenReviewVerifier } from '../kube/token-review.js';
import type { TokenVerifierKind } from './config.js';

export interface ClusterVerifierOptions {
  kind: TokenVerifierKind;
  requireBoundPod: boolean;
  clock: Clock;
  /** Runs the issuer discovery, which needs the API server, with startup retries. */
  startup<T>(what: string, step: () => Promise<T>): Promise<T>;
}

/**
 * JWKS (default) verifies locally against the cluster's service account issuer keys: no API call per
 * token. TokenReview asks the API server each time and works whatever the issuer setup.
 * The bound-pod check adds one pod read per token and refuses tokens of deleted pods.
 */
export async function clusterTokenVerifier(k: KubeClients, o: ClusterVerifierOptions): Promise<TokenVerifier> {
  const inner: TokenVerifier = o.kind === 'tokenreview'
    ? new TokenReviewVerifier({ authentication: k.authentication })
    : new JwksVerifier({
      issuer: await o.startup('discover the service account token issuer', () => clusterIssuer(k.wellKnown)),
      fetchJwks: clusterJwksFetcher(k.openid),
      clock: o.clock,
    });
  return o.requireBoundPod ? new PodBoundVerifier({ inner, core: k.core, requirePodBinding: true }) : inner;
}

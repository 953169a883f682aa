import type { CoreV1Api } from '@kubernetes/client-node';
import { unauthorized } from '../ca/auth/claims.js';
import type { Caller, TokenVerifier } from '../ca/auth/verifier.js';
import { MeshidError } from '../common/errors.js';
import { describeApiError, isNotFound } from './api-errors.js';

export interface PodBoundVerifierOptions {
  inner: TokenVerifier;
  core: CoreV1Api;
  /** Refuse tokens not bound to a pod (legacy or manually minted ones) instead of letting them through. */
  requirePodBinding?: boolean;
}

/**
 * A token bound to a pod stays cryptographically valid until it expires even after the pod is gone;
 * this check, like the API server's own for bound tokens, refuses it once the pod (that uid) no longer exists.
 */
export class PodBoundVerifier implements TokenVerifier {
  constructor(private readonly opts: PodBoundVerifierOptions) {}

  async verify(token: string, audiences?: readonly string[]): Promise<Caller> {
    const caller = await this.opts.inner.verify(token, audiences);
    if (!caller.pod) {
      if (this.opts.requirePodBinding) throw unauthorized('token_not_pod_bound', 'the token is not bound to a pod; use a projected ServiceAccount token');
      return caller;
    }
    let uid: string | undefined;
    try {
      const pod = await this.opts.core.readNamespacedPod({ namespace: caller.namespace, name: caller.pod.name });
      uid = pod.metadata?.uid;
    } catch (err) {
      if (!isNotFound(err)) throw new MeshidError('pod_check_unavailable', `cannot check that pod ${caller.namespace}/${caller.pod.name} exists: ${describeApiError(err)}`, 503);
    }
    if (uid !== caller.pod.uid) throw unauthorized('pod_not_found', `the pod ${caller.namespace}/${caller.pod.name} the token is bound to no longer exists`);
    return caller;
  }
}

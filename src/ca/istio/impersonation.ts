import { MeshidError } from '../../common/errors.js';
import { validateNamespace, validateServiceAccount, type WorkloadIdentity } from '../../pki/spiffe.js';
import type { Caller } from '../auth/verifier.js';

export interface ServiceAccountRef {
  namespace: string;
  serviceAccount: string;
}

/** Whether a pod of a service account is scheduled on a node, as the API says; failures are 503 MeshidErrors. */
export interface NodePods {
  hasServiceAccountPod(o: ServiceAccountRef & { node: string }): Promise<boolean>;
}

/** `serve --ca-trusted-node-accounts ns/sa,...`: the node agents (ztunnel) that may ask for certificates of others. */
export function parseTrustedNodeAccounts(value: string): ServiceAccountRef[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const [namespace, serviceAccount, ...rest] = entry.split('/');
    try {
      if (rest.length || !namespace || !serviceAccount) throw new Error('not namespace/service-account');
      return { namespace: validateNamespace(namespace), serviceAccount: validateServiceAccount(serviceAccount) };
    } catch (err) {
      throw new Error(`--ca-trusted-node-accounts entry "${entry.slice(0, 64)}" must be <namespace>/<service-account> (${(err as Error).message})`);
    }
  });
}

export interface ImpersonationPolicy {
  trusted: readonly ServiceAccountRef[];
  /** Cluster mode only; without it no impersonation is allowed. */
  nodePods?: NodePods;
}

/**
 * Whose certificate the caller gets: its own, or, as Istio allows ztunnel, that of a service account
 * with a pod on the caller's node when the caller is a trusted node account. The node comes from the
 * caller's token (kubernetes.io.node), never from the request.
 */
export async function certificateSubject(caller: Caller, ask: WorkloadIdentity | undefined, policy: ImpersonationPolicy): Promise<ServiceAccountRef> {
  const self = { namespace: caller.namespace, serviceAccount: caller.serviceAccount };
  if (!ask || (ask.namespace === self.namespace && ask.serviceAccount === self.serviceAccount)) return self;
  const wanted = { namespace: ask.namespace, serviceAccount: ask.serviceAccount };
  const callerName = `${self.namespace}/${self.serviceAccount}`;
  if (!policy.nodePods || !policy.trusted.some((t) => t.namespace === self.namespace && t.serviceAccount === self.serviceAccount)) {
    throw new MeshidError('impersonation_not_allowed', `${callerName} may not ask for the certificate of ${wanted.namespace}/${wanted.serviceAccount}: only accounts listed in --ca-trusted-node-accounts may impersonate`, 403);
  }
  if (!caller.node) {
    throw new MeshidError('impersonation_not_allowed', `the token of ${callerName} names no node (kubernetes.io.node): use a projected token of the node agent's pod`, 403);
  }
  if (!(await policy.nodePods.hasServiceAccountPod({ ...wanted, node: caller.node.name }))) {
    throw new MeshidError('impersonation_not_allowed', `no pod of service account ${wanted.namespace}/${wanted.serviceAccount} runs on node ${caller.node.name}, where ${callerName} runs`, 403);
  }
  return wanted;
}

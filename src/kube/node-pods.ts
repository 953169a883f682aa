import type { CoreV1Api } from '@kubernetes/client-node';
import type { NodePods } from '../ca/istio/impersonation.js';
import { MeshidError } from '../common/errors.js';
import { describeApiError } from './api-errors.js';

/** Pods that ended keep their node name but no longer run there. */
const ENDED = new Set(['Succeeded', 'Failed']);

/** One list call per check, restricted to the node by field selector, so its cost does not grow with the cluster. */
export function apiNodePods(core: CoreV1Api): NodePods {
  return {
    async hasServiceAccountPod({ namespace, serviceAccount, node }) {
      let items;
      try {
        ({ items } = await core.listNamespacedPod({ namespace, fieldSelector: `spec.nodeName=${node}` }));
      } catch (err) {
        throw new MeshidError('pod_check_unavailable', `cannot list the pods of ${namespace} on node ${node}: ${describeApiError(err)}`, 503);
      }
      return items.some((p) => (p.spec?.serviceAccountName ?? 'default') === serviceAccount && !ENDED.has(p.status?.phase ?? ''));
    },
  };
}

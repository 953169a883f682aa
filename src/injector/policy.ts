import type { InjectorConfig } from './config.js';
import { INJECT_LABEL, NEVER_INJECTED_NAMESPACES } from './constants.js';
import type { Pod } from './types.js';

export type SkipReason = 'opt_out_label' | 'host_network' | 'system_namespace' | 'control_plane_namespace';

export type Decision = { inject: true } | { inject: false; reason: SkipReason; message: string };

/**
 * Whether a pod gets a sidecar. The namespace label is matched by the webhook configuration's
 * namespaceSelector before a request ever arrives; these are the rules that hold regardless of it.
 */
export function decide(pod: Pod, namespace: string, config: InjectorConfig): Decision {
  if (NEVER_INJECTED_NAMESPACES.includes(namespace)) {
    return { inject: false, reason: 'system_namespace', message: `namespace ${namespace} is never injected` };
  }
  if (namespace === config.controlPlaneNamespace) {
    return { inject: false, reason: 'control_plane_namespace', message: `namespace ${namespace} runs the control plane` };
  }
  if (pod.metadata?.labels?.[INJECT_LABEL] === 'false') {
    return { inject: false, reason: 'opt_out_label', message: `pod label ${INJECT_LABEL}=false` };
  }
  if (pod.spec.hostNetwork === true) {
    // Redirecting with iptables in the host's network namespace would capture the node's traffic.
    return { inject: false, reason: 'host_network', message: 'pod uses hostNetwork' };
  }
  return { inject: true };
}

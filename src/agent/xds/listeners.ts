import type { SidecarPlan } from '../../policy/plan.js';
import { inboundListener } from './inbound-listener.js';
import { outboundListener } from './outbound-listener.js';

/** What listeners() needs of the pod: its IPs (an IPv6 one makes both listeners listen on [::] too). */
export interface ListenerPod {
  ips: readonly string[];
}

/** The redirect targets, 15001 and 15006; the stats listener (15090) stays in the bootstrap. */
export function listeners(plan: SidecarPlan, pod: ListenerPod): Array<Record<string, unknown>> {
  return [outboundListener(plan, pod.ips), inboundListener(plan, pod.ips)];
}

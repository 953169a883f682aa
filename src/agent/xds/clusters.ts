import type { SidecarPlan } from '../../policy/plan.js';
import { CLUSTER, outboundName } from './names.js';
import { upstreamMeshTls } from './tls-contexts.js';

/** To wherever the connection was going (the address original_dst restored). */
function originalDst(name: string): Record<string, unknown> {
  return { name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '10s' };
}

/** The two passthrough clusters and, per meshed destination, one mTLS cluster that accepts only its identities. */
export function clusters(plan: SidecarPlan): Array<Record<string, unknown>> {
  return [
    originalDst(CLUSTER.inbound),
    originalDst(CLUSTER.passthrough),
    ...plan.outbound.map((d) => ({ ...originalDst(outboundName(d)), transport_socket: upstreamMeshTls(d.identities) })),
  ];
}

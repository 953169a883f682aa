import type { WorkloadView } from '../mesh/view.js';
import { effectiveMtls } from './mtls.js';
import type { SidecarPlan } from './plan.js';
import { rbacFilters } from './rbac.js';

/** What this pod's sidecar enforces, from its view alone: per inbound port the mTLS mode and RBAC filters. */
export function planSidecar(view: WorkloadView): SidecarPlan {
  const inbound = effectiveMtls(view).map(({ port, mode }) => {
    const declared = port === null ? undefined : view.inboundPorts.find((p) => p.port === port);
    const http = declared?.http ?? false;
    const rbac = rbacFilters(view, port === null ? null : { port, http });
    return { port, mode, http, networkRbac: rbac.network, httpRbac: rbac.http };
  });
  return { trustDomain: view.trustDomain, inbound, outbound: view.destinations };
}

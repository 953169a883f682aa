import type { MtlsMode, PeerAuthenticationSpec, PolicyObject, WorkloadView } from '../mesh/view.js';
import { appliesTo } from '../mesh/select.js';

export interface PortMtls {
  /** A pod port, or `null` for every port no other entry names. */
  port: number | null;
  mode: MtlsMode;
}

/** With no policy at all: a pod that was reachable before injection stays reachable by plaintext clients. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

type Peer = PolicyObject<PeerAuthenticationSpec>;

/**
 * Istio wins a tie between policies of one scope by the oldest; a PolicyObject carries no creation time, so the
 * first by name wins here: stable, and the same on every agent and control plane replica.
 */
function first(policies: Peer[]): Peer | undefined {
  return [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
}

function isSet(mode: MtlsMode | 'UNSET' | undefined): mode is MtlsMode {
  return mode !== undefined && mode !== 'UNSET';
}

/**
 * The inbound mTLS mode of each port of the view's pod, by Istio's precedence: mesh-wide (root namespace, no
 * selector) < namespace (no selector) < workload (selector, in the pod's own namespace: Istio ignores
 * PeerAuthentication selectors in the root namespace). UNSET inherits from the scope above; `portLevelMtls`
 * counts only from the workload policy, and its UNSET entries take the workload's resolved mode.
 */
export function effectiveMtls(view: Pick<WorkloadView, 'pod' | 'rootNamespace' | 'inboundPorts' | 'peerAuthentications'>): PortMtls[] {
  const applying = view.peerAuthentications.filter((p) => appliesTo(view.pod, p, view.rootNamespace));
  const selected = (p: Peer) => !!p.spec.selector?.matchLabels && Object.keys(p.spec.selector.matchLabels).length > 0;
  const mesh = first(applying.filter((p) => !selected(p) && p.namespace === view.rootNamespace));
  const namespace = first(applying.filter((p) => !selected(p) && p.namespace !== view.rootNamespace));
  const workload = first(applying.filter((p) => selected(p) && p.namespace === view.pod.namespace && p.namespace !== view.rootNamespace));

  let mode = DEFAULT_MTLS_MODE;
  for (const scope of [mesh, namespace, workload]) {
    const m = scope?.spec.mtls?.mode;
    if (isSet(m)) mode = m;
  }
  const perPort = new Map<number, MtlsMode>();
  for (const [port, { mode: m }] of Object.entries(workload?.spec.portLevelMtls ?? {})) perPort.set(Number(port), isSet(m) ? m : mode);

  const ports = new Set([...view.inboundPorts.map((p) => p.port), ...perPort.keys()]);
  const out: PortMtls[] = [...ports].sort((a, b) => a - b).map((port) => ({ port, mode: perPort.get(port) ?? mode }));
  out.push({ port: null, mode });
  return out;
}

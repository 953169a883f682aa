import { isIP } from 'node:net';
import { PORTS } from '../../common/pod-contract.js';
import type { MeshDestination } from '../../mesh/view.js';
import type { SidecarPlan } from '../../policy/plan.js';
import { listenerAddresses } from './addresses.js';
import { listenerFilter, tcpProxy } from './filters.js';
import { CLUSTER, LISTENER, outboundName } from './names.js';

/** Ports of another pod's sidecar that its iptables never redirect: mTLS there would meet a plaintext server. */
const UNREDIRECTED_PORTS = [PORTS.agentStatus, PORTS.agentHealth, PORTS.envoyStats] as const;

/**
 * 15001: what the app sends out. Each meshed destination gets its own filter chain, matched on the original
 * destination (restored by original_dst) and sent over mesh mTLS by its own cluster; everything else is passed
 * through in plaintext. Chains are named and built from the destination alone and kept in key order, so a
 * change to one destination changes only its chain: Envoy applies such an update as a "filter chain only
 * update" and drains only the connections of chains that were removed or changed, leaving every other chain
 * and its connections alone (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/listeners/listeners#filter-chain-only-update).
 */
export function outboundListener(plan: SidecarPlan, podIps: readonly string[]): Record<string, unknown> {
  return {
    name: LISTENER.outbound,
    ...listenerAddresses(podIps, PORTS.outbound),
    listener_filters: [listenerFilter('original_dst')],
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      ...UNREDIRECTED_PORTS.map((port) => ({
        name: `outbound|sidecar-port|${port}`,
        filter_chain_match: { destination_port: port },
        filters: [tcpProxy('outbound-passthrough', CLUSTER.passthrough)],
      })),
      ...plan.outbound.map(meshChain),
    ],
    default_filter_chain: { name: 'outbound|passthrough', filters: [tcpProxy('outbound-passthrough', CLUSTER.passthrough)] },
  };
}

function meshChain(d: MeshDestination): Record<string, unknown> {
  const name = outboundName(d);
  return {
    name,
    filter_chain_match: {
      ...(d.port === null ? {} : { destination_port: d.port }),
      prefix_ranges: [{ address_prefix: d.address, prefix_len: isIP(d.address) === 6 ? 128 : 32 }],
    },
    filters: [tcpProxy(name, name)],
  };
}

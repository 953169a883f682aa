import { isIP } from 'node:net';
import { PORTS } from '../../common/pod-contract.js';
import type { MeshDestination } from '../../mesh/view.js';
import type { SidecarPlan } from '../../policy/plan.js';
import { listenerAddresses } from './addresses.js';
import { listenerFilter, tcpProxy } from './filters.js';
import { CLUSTER, LISTENER, outboundName, TYPE } from './names.js';

/** Ports of another pod's sidecar that its iptables never redirect: mTLS there would meet a plaintext server. */
const UNREDIRECTED_PORTS = [PORTS.agentStatus, PORTS.agentHealth, PORTS.envoyStats] as const;
const SIDECAR_PORT_CHAIN = 'outbound|sidecar-port';

type Json = Record<string, unknown>;

/**
 * 15001: what the app sends out. Each meshed destination gets its own filter chain, sent over mesh mTLS by its own
 * cluster; everything else is passed through in plaintext by the default chain. The chain is picked by
 * filter_chain_matcher on the original destination (restored by original_dst): IP, then port. Envoy's
 * older filter_chain_match cannot say this: it matches destination_port before the IP and never falls back, so
 * one Service chain on port 80 would shadow every meshed pod IP for port 80.
 *
 * Chains are named and built from the destination alone and kept in key order, so a change to one destination
 * changes only its chain (and one matcher entry): Envoy applies that as a filter chain only update, draining only
 * connections of removed or changed chains, and a matcher change alone drains nothing
 * (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/listeners/listeners#filter-chain-only-update;
 * Listener.filter_chain_matcher in envoy/config/listener/v3/listener.proto).
 */
export function outboundListener(plan: SidecarPlan, podIps: readonly string[]): Json {
  return {
    name: LISTENER.outbound,
    ...listenerAddresses(podIps, PORTS.outbound),
    listener_filters: [listenerFilter('original_dst')],
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      { name: SIDECAR_PORT_CHAIN, filters: [tcpProxy('outbound-passthrough', CLUSTER.passthrough)] },
      ...plan.outbound.map((d) => ({ name: outboundName(d), filters: [tcpProxy(outboundName(d), outboundName(d))] })),
    ],
    filter_chain_matcher: destinationMatcher(plan.outbound),
    default_filter_chain: { name: 'outbound|passthrough', filters: [tcpProxy('outbound-passthrough', CLUSTER.passthrough)] },
  };
}

/** Envoy's DestinationIPInput renders an address as inet_ntop does: IPv6 compressed and lower case. */
export function canonicalIp(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/**
 * The peer sidecar's unredirected ports first (plaintext, whatever the IP), then destination IP (exact), then, for
 * a Service IP, its ports (exact) -> chain name. No match anywhere: the default chain (plaintext passthrough).
 */
function destinationMatcher(destinations: readonly MeshDestination[]): Json {
  const byIp = new Map<string, { any?: string; ports: Map<number, string> }>();
  for (const d of destinations) {
    const ip = canonicalIp(d.address);
    const entry: { any?: string; ports: Map<number, string> } = byIp.get(ip) ?? { ports: new Map() };
    if (d.port === null) entry.any = outboundName(d);
    else entry.ports.set(d.port, outboundName(d));
    byIp.set(ip, entry);
  }
  const map: Record<string, Json> = {};
  for (const [ip, { any, ports }] of byIp) {
    if (ports.size === 0) {
      map[ip] = chain(any!);
      continue;
    }
    const portMap = Object.fromEntries([...ports].map(([p, name]) => [String(p), chain(name)]));
    map[ip] = { matcher: { matcher_tree: { input: input('destination-port', 'DestinationPortInput'), exact_match_map: { map: portMap } }, ...(any ? { on_no_match: chain(any) } : {}) } };
  }
  const sidecarPorts = Object.fromEntries(UNREDIRECTED_PORTS.map((p) => [String(p), chain(SIDECAR_PORT_CHAIN)]));
  return {
    matcher_tree: { input: input('destination-port', 'DestinationPortInput'), exact_match_map: { map: sidecarPorts } },
    // An exact_match_map must have an entry (Envoy's validation rules): with nothing meshed there is no IP level.
    ...(byIp.size > 0 ? { on_no_match: { matcher: { matcher_tree: { input: input('destination-ip', 'DestinationIPInput'), exact_match_map: { map } } } } } : {}),
  };
}

function input(name: string, message: string): Json {
  return { name, typed_config: { '@type': `${TYPE}envoy.extensions.matching.common_inputs.network.v3.${message}` } };
}

function chain(name: string): Json {
  return { action: { name, typed_config: { '@type': `${TYPE}google.protobuf.StringValue`, value: name } } };
}

import { PORTS } from '../../common/pod-contract.js';
import type { EnvoyFilter, InboundPortPlan, SidecarPlan } from '../../policy/plan.js';
import { listenerAddresses } from './addresses.js';
import { httpToCluster, listenerFilter, tcpProxy } from './filters.js';
import { CLUSTER, LISTENER, MESH_ALPN } from './names.js';
import { downstreamMeshTls } from './tls-contexts.js';

/**
 * 15006: what reaches the pod. tls_inspector reads the ClientHello, so a peer sidecar's mTLS (ALPN meshid) is
 * told apart from everything else. Per port of the plan: PERMISSIVE terminates mesh mTLS and passes the rest
 * through, STRICT has only the mTLS chain (anything else matches no chain and is closed), DISABLE only the
 * passthrough chain. Envoy matches destination_port before anything else and never falls back to a less
 * specific port, so a STRICT port stays closed to plaintext even when every other port is PERMISSIVE; the
 * `null` entry's chains carry no port and take every port no other entry names.
 */
export function inboundListener(plan: SidecarPlan, podIps: readonly string[]): Record<string, unknown> {
  return {
    name: LISTENER.inbound,
    ...listenerAddresses(podIps, PORTS.inbound),
    listener_filters: [listenerFilter('original_dst'), listenerFilter('tls_inspector')],
    // A server-first protocol (the client sends nothing) passes after this wait instead of being cut off.
    listener_filters_timeout: '1s',
    continue_on_listener_filters_timeout: true,
    traffic_direction: 'INBOUND',
    filter_chains: plan.inbound.flatMap((p) => portChains(p, plan.trustDomain)),
  };
}

function portChains(p: InboundPortPlan, trustDomain: string): Array<Record<string, unknown>> {
  const label = p.port === null ? 'any' : String(p.port);
  const port = p.port === null ? {} : { destination_port: p.port };
  const chains: Array<Record<string, unknown>> = [];
  if (p.mode !== 'DISABLE') {
    chains.push({
      name: `inbound|${label}|mtls`,
      filter_chain_match: { ...port, transport_protocol: 'tls', application_protocols: [MESH_ALPN] },
      transport_socket: downstreamMeshTls(trustDomain),
      filters: appFilters(p, `inbound|${label}|mtls`, true),
    });
  }
  if (p.mode !== 'STRICT') {
    chains.push({ name: `inbound|${label}|passthrough`, ...(p.port === null ? {} : { filter_chain_match: port }), filters: appFilters(p, `inbound|${label}|passthrough`, false) });
  }
  return chains;
}

/**
 * The plan's authorization applies to plaintext as well: a PERMISSIVE port must not let a caller without a
 * certificate past an ALLOW policy that names principals. Plaintext stays a byte stream (the app's own TLS
 * still passes) unless the port has HTTP rules to enforce.
 */
function appFilters(p: InboundPortPlan, statPrefix: string, mtls: boolean): EnvoyFilter[] {
  const http = p.http && (mtls || p.httpRbac.length > 0);
  return [...p.networkRbac, http ? httpToCluster(statPrefix, CLUSTER.inbound, p.httpRbac) : tcpProxy(statPrefix, CLUSTER.inbound)];
}

import { PORTS } from '../common/pod-contract.js';
import { listenerAddresses, socketAddress } from './xds/addresses.js';
import { agentConfigSource, XDS_CLUSTER } from './xds/config-source.js';
import { TYPE } from './xds/names.js';

export interface BootstrapOptions {
  nodeId: string;
  /** Envoy's service cluster: `<service-account>.<namespace>`. */
  cluster: string;
  sdsSocketPath: string;
  /** The pod's IPs (POD_IPS); any IPv6 one adds [::] to the stats listener (LDS does the same for the others). */
  podIps: readonly string[];
}

/**
 * Envoy's bootstrap (v3 JSON) for the sidecar: its listeners and clusters (LDS/CDS) and its secrets (SDS) all
 * come from the agent over its Unix socket; what stays static is the cluster for that socket, admin on
 * loopback only and Prometheus stats on 15090. Pure, so tests check it against Envoy's own proto definitions.
 */
export function envoyBootstrap(o: BootstrapOptions): Record<string, unknown> {
  return {
    node: { id: o.nodeId, cluster: o.cluster },
    admin: { address: socketAddress('127.0.0.1', PORTS.envoyAdmin) },
    dynamic_resources: { lds_config: agentConfigSource(), cds_config: agentConfigSource() },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': `${TYPE}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: endpoints(XDS_CLUSTER, { pipe: { path: o.sdsSocketPath } }),
        },
        { name: 'admin-stats', type: 'STATIC', connect_timeout: '1s', load_assignment: endpoints('admin-stats', socketAddress('127.0.0.1', PORTS.envoyAdmin)) },
      ],
      listeners: [
        // Prometheus scrapes a dual-stack pod over either family.
        { name: 'prometheus', ...listenerAddresses(o.podIps, PORTS.envoyStats), filter_chains: [{ filters: [statsConnectionManager()] }] },
      ],
    },
  };
}

function statsConnectionManager(): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
      stat_prefix: 'stats',
      route_config: {
        virtual_hosts: [{ name: 'stats', domains: ['*'], routes: [{ match: { prefix: '/stats/prometheus' }, route: { cluster: 'admin-stats' } }] }],
      },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } }],
    },
  };
}

function endpoints(clusterName: string, address: Record<string, unknown>): Record<string, unknown> {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
}

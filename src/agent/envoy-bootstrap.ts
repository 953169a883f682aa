import { isIP } from 'node:net';
import { PORTS } from '../common/pod-contract.js';
import { DEFAULT_SECRET, ROOT_SECRET } from './secrets.js';

export const SDS_CLUSTER = 'sds-grpc';

export interface BootstrapOptions {
  nodeId: string;
  /** Envoy's service cluster: `<service-account>.<namespace>`. */
  cluster: string;
  sdsSocketPath: string;
  trustDomain: string;
  /** The pod's IPs (POD_IPS); any IPv6 one adds [::] to the redirect listeners. */
  podIps: readonly string[];
}

const TYPE = 'type.googleapis.com/';

/**
 * Envoy's bootstrap (v3 JSON) for the sidecar: SDS over the agent's Unix socket, `default` as the
 * certificate and `ROOTCA` to validate peers, accepting only SPIFFE IDs of our trust domain; inbound
 * traffic redirected to 15006 must arrive over mTLS, outbound traffic redirected to 15001 leaves over mTLS
 * to its original destination (on IPv6 too where the pod has it); admin on loopback only, Prometheus stats
 * on 15090. Pure, so tests check it
 * against Envoy's own proto definitions.
 */
export function envoyBootstrap(o: BootstrapOptions): Record<string, unknown> {
  const sdsConfig = {
    resource_api_version: 'V3',
    // Listeners wait for their secrets rather than coming up without them.
    initial_fetch_timeout: '0s',
    api_config_source: {
      api_type: 'GRPC',
      transport_api_version: 'V3',
      set_node_on_first_message_only: true,
      grpc_services: [{ envoy_grpc: { cluster_name: SDS_CLUSTER } }],
    },
  };
  const commonTls = {
    tls_certificate_sds_secret_configs: [{ name: DEFAULT_SECRET, sds_config: sdsConfig }],
    combined_validation_context: {
      default_validation_context: {
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: `spiffe://${o.trustDomain}/` } }],
      },
      validation_context_sds_secret_config: { name: ROOT_SECRET, sds_config: sdsConfig },
    },
  };
  const tls = (kind: 'DownstreamTlsContext' | 'UpstreamTlsContext', extra: Record<string, unknown>) => ({
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.${kind}`, common_tls_context: commonTls, ...extra },
  });
  const tcpProxy = (statPrefix: string, cluster: string) => ({
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': `${TYPE}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: statPrefix, cluster },
  });
  const originalDst = {
    name: 'envoy.filters.listener.original_dst',
    typed_config: { '@type': `${TYPE}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` },
  };
  // Envoy binds IPv6 sockets v6-only, so [::] sits beside 0.0.0.0 as a second address of the same listener (as
  // Istio does); Prometheus scrapes a dual-stack pod over either family, so the stats port gets it too.
  const dualStack = (port: number) => ({
    address: socketAddress('0.0.0.0', port),
    ...(o.podIps.some((ip) => isIP(ip) === 6) ? { additional_addresses: [{ address: socketAddress('::', port) }] } : {}),
  });
  return {
    node: { id: o.nodeId, cluster: o.cluster },
    admin: { address: socketAddress('127.0.0.1', PORTS.envoyAdmin) },
    static_resources: {
      clusters: [
        {
          name: SDS_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': `${TYPE}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: endpoints(SDS_CLUSTER, { pipe: { path: o.sdsSocketPath } }),
        },
        { name: 'admin-stats', type: 'STATIC', connect_timeout: '1s', load_assignment: endpoints('admin-stats', socketAddress('127.0.0.1', PORTS.envoyAdmin)) },
        { name: 'inbound-passthrough', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '10s' },
        {
          name: 'outbound-mtls',
          type: 'ORIGINAL_DST',
          lb_policy: 'CLUSTER_PROVIDED',
          connect_timeout: '10s',
          transport_socket: tls('UpstreamTlsContext', {}),
        },
      ],
      listeners: [
        {
          name: 'virtualInbound',
          ...dualStack(PORTS.inbound),
          listener_filters: [originalDst],
          filter_chains: [{ transport_socket: tls('DownstreamTlsContext', { require_client_certificate: true }), filters: [tcpProxy('inbound', 'inbound-passthrough')] }],
        },
        {
          name: 'virtualOutbound',
          ...dualStack(PORTS.outbound),
          listener_filters: [originalDst],
          filter_chains: [{ filters: [tcpProxy('outbound', 'outbound-mtls')] }],
        },
        {
          name: 'prometheus',
          ...dualStack(PORTS.envoyStats),
          filter_chains: [{ filters: [statsConnectionManager()] }],
        },
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

function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

function endpoints(clusterName: string, address: Record<string, unknown>): Record<string, unknown> {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
}

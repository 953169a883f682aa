import type { EnvoyFilter } from '../../policy/plan.js';
import { TYPE } from './names.js';

export function tcpProxy(statPrefix: string, cluster: string): EnvoyFilter {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': `${TYPE}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: statPrefix, cluster },
  };
}

/** HTTP to `cluster` through the plan's HTTP RBAC filters (methods, paths), then the router. */
export function httpToCluster(statPrefix: string, cluster: string, httpRbac: readonly EnvoyFilter[]): EnvoyFilter {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
      stat_prefix: statPrefix,
      route_config: {
        name: statPrefix,
        virtual_hosts: [{ name: statPrefix, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout: '0s' } }] }],
      },
      // What passed through before must still: long requests (no route timeout) and WebSocket upgrades.
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      http_filters: [...httpRbac, { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } }],
    },
  };
}

export function listenerFilter(name: 'original_dst' | 'tls_inspector'): EnvoyFilter {
  const message = name === 'original_dst' ? 'original_dst.v3.OriginalDst' : 'tls_inspector.v3.TlsInspector';
  return { name: `envoy.filters.listener.${name}`, typed_config: { '@type': `${TYPE}envoy.extensions.filters.listener.${message}` } };
}

/** The messages the agent encodes into LDS and CDS responses: the resources and each `@type` they may carry. */
export const LISTENER_TYPE = 'envoy.config.listener.v3.Listener';
export const CLUSTER_TYPE = 'envoy.config.cluster.v3.Cluster';

export const CONFIG_ROOT_TYPES = [
  LISTENER_TYPE,
  CLUSTER_TYPE,
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.extensions.matching.common_inputs.network.v3.DestinationIPInput',
  'envoy.extensions.matching.common_inputs.network.v3.DestinationPortInput',
  // The filter chain matcher's action: the name of the chain.
  'google.protobuf.StringValue',
] as const;

export const LISTENER_TYPE_URL = `type.googleapis.com/${LISTENER_TYPE}`;
export const CLUSTER_TYPE_URL = `type.googleapis.com/${CLUSTER_TYPE}`;

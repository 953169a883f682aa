/** The bootstrap's static cluster for the agent's Unix socket, which serves SDS, LDS and CDS. */
export const XDS_CLUSTER = 'xds-grpc';

/**
 * Where Envoy gets a secret, its listeners and its clusters: the agent, over gRPC on its socket.
 * `initial_fetch_timeout: 0s`: Envoy waits for them rather than coming up without them, so its /ready means
 * the agent's configuration and secrets are in place.
 */
export function agentConfigSource(): Record<string, unknown> {
  return {
    resource_api_version: 'V3',
    initial_fetch_timeout: '0s',
    api_config_source: {
      api_type: 'GRPC',
      transport_api_version: 'V3',
      set_node_on_first_message_only: true,
      grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
    },
  };
}

import type * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { ENVOY_CONFIG_PROTOS } from '../helpers/envoy-config-check.js';
import { discoveryClient } from './helpers.js';

/** Envoy's own definitions (proto-loader over the .proto files), not the agent's generated subset. */
export const envoyDefs = loadEnvoyProtos(ENVOY_CONFIG_PROTOS);

export const LDS = { service: 'envoy.service.listener.v3.ListenerDiscoveryService', method: 'StreamListeners', typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener' };
export const CDS = { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', method: 'StreamClusters', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' };

/** An LDS or CDS client as Envoy is one: a real gRPC stream over the agent's Unix socket. */
export function xdsClient(socketPath: string, api: typeof LDS): ReturnType<typeof discoveryClient> {
  return discoveryClient(socketPath, envoyDefs[api.service] as grpc.ServiceDefinition, api.method, api.typeUrl);
}

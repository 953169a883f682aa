import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { loadEnvoyProtoSubset } from './envoy-protos.js';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';
const SECRET_MESSAGE = 'envoy.extensions.transport_sockets.tls.v3.Secret';
export const SDS_PROTO_FILES = ['envoy/service/secret/v3/sds.proto', 'envoy/extensions/transport_sockets/tls/v3/secret.proto'];

/** Wire shapes of the xDS messages the agent reads and writes (snake_case, as proto-loader gives them). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; cluster?: string };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

export interface DataSource {
  inline_bytes?: Buffer;
}

export interface SecretMessage {
  name: string;
  tls_certificate?: { certificate_chain?: DataSource; private_key?: DataSource };
  validation_context?: { trusted_ca?: DataSource };
}

export interface SdsProtos {
  service: grpc.ServiceDefinition;
  encodeSecret(secret: SecretMessage): Buffer;
  decodeSecret(bytes: Uint8Array): SecretMessage;
}

let loaded: SdsProtos | undefined;

/**
 * Parsing Envoy's protos costs ~100-200 ms, so it happens once per process; only the SDS service, Secret
 * and the types they reach are kept.
 */
export function sdsProtos(): SdsProtos {
  if (loaded) return loaded;
  const def = loadEnvoyProtoSubset(SDS_PROTO_FILES, [SDS_SERVICE, SECRET_MESSAGE]);
  const secret = def[SECRET_MESSAGE] as MessageTypeDefinition<SecretMessage, SecretMessage>;
  loaded = {
    service: def[SDS_SERVICE] as grpc.ServiceDefinition,
    encodeSecret: (s) => secret.serialize(s),
    decodeSecret: (b) => secret.deserialize(Buffer.from(b)) as SecretMessage,
  };
  return loaded;
}

import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { SDS_TYPES } from './sds-types.generated.js';

export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';
export const LDS_SERVICE = 'envoy.service.listener.v3.ListenerDiscoveryService';
export const CDS_SERVICE = 'envoy.service.cluster.v3.ClusterDiscoveryService';
export const SECRET_MESSAGE = 'envoy.extensions.transport_sockets.tls.v3.Secret';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** Wire shapes of the xDS messages the agent reads and writes (snake_case field names, as in the .proto files). */
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
  /** LDS and CDS: the same DiscoveryRequest/Response as SDS, so they cost the agent no types of their own. */
  lds: grpc.ServiceDefinition;
  cds: grpc.ServiceDefinition;
  encodeSecret(secret: SecretMessage): Buffer;
  decodeSecret(bytes: Uint8Array): SecretMessage;
}

let loaded: SdsProtos | undefined;

/** The plain objects proto-loader gives with PROTO_OPTIONS (envoy-protos.ts), so tests compare the two as they are. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: false };

/**
 * Once per process: the SDS, LDS and CDS services and Secret from the committed subset of Envoy's protos
 * (sds-types.generated.ts), with protobufjs' reflection alone. proto-loader would also build a
 * descriptor for each of the 44 types and load protobufjs' .proto parser: ~50 ms of the agent's
 * process start under --jitless, for nothing the agent uses.
 */
export function sdsProtos(): SdsProtos {
  if (loaded) return loaded;
  const root = protobuf.Root.fromJSON(SDS_TYPES as protobuf.INamespace);
  const secret = root.lookupType(SECRET_MESSAGE);
  loaded = { service: definition(root, SDS_SERVICE), lds: definition(root, LDS_SERVICE), cds: definition(root, CDS_SERVICE), encodeSecret: serializer(secret), decodeSecret: deserializer(secret) };
  return loaded;
}

function definition(root: protobuf.Root, name: string): grpc.ServiceDefinition {
  const service = root.lookupService(name);
  service.resolveAll();
  const methods: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    methods[m.name] = {
      path: `/${name}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: serializer(m.resolvedRequestType!),
      requestDeserialize: deserializer(m.resolvedRequestType!),
      responseSerialize: serializer(m.resolvedResponseType!),
      responseDeserialize: deserializer(m.resolvedResponseType!),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return methods;
}

/** Under node, protobufjs writes into a Buffer (its BufferWriter): handed to grpc-js as is, not copied. */
function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => type.encode(type.fromObject(value)).finish() as Buffer;
}

function deserializer<T>(type: protobuf.Type): (bytes: Uint8Array) => T {
  return (bytes) => type.toObject(type.decode(bytes), TO_OBJECT) as T;
}

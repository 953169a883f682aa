import type * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { fromJSON, type MessageTypeDefinition } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from './envoy-protos.js';
import type { ProtoJson } from './proto-subset.js';
import { parseSdsProtoJson, SDS_JSON_URL, SDS_SERVICE, SECRET_MESSAGE } from './sds-protos-json.js';

export { SDS_PROTO_FILES, SDS_SERVICE } from './sds-protos-json.js';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

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
 * Once per process: the SDS service, Secret and the types they reach, from the JSON `npm run build`
 * generated out of Envoy's .proto files. A bare `tsc` build (no generated file) parses the .proto files
 * instead, ~100 ms slower, to the same definitions (test/agent/protos.test.ts holds them equal).
 */
export function sdsProtos(): SdsProtos {
  if (loaded) return loaded;
  const def = fromJSON(generatedJson() ?? parseSdsProtoJson(), PROTO_OPTIONS);
  const secret = def[SECRET_MESSAGE] as MessageTypeDefinition<SecretMessage, SecretMessage>;
  loaded = {
    service: def[SDS_SERVICE] as grpc.ServiceDefinition,
    encodeSecret: (s) => secret.serialize(s),
    decodeSecret: (b) => secret.deserialize(Buffer.from(b)) as SecretMessage,
  };
  return loaded;
}

function generatedJson(): ProtoJson | undefined {
  try {
    return JSON.parse(readFileSync(SDS_JSON_URL, 'utf8')) as ProtoJson;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { envoyProtoSubsetJson } from './envoy-protos.js';
import type { ProtoJson } from './proto-subset.js';

export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';
export const SECRET_MESSAGE = 'envoy.extensions.transport_sockets.tls.v3.Secret';
export const SDS_PROTO_FILES = ['envoy/service/secret/v3/sds.proto', 'envoy/extensions/transport_sockets/tls/v3/secret.proto'];

/**
 * Where `npm run build` writes the SDS subset, next to the compiled modules. Generating it at build time,
 * like protoc-generated code, spares every agent process parsing Envoy's .proto files at start: ~70 ms
 * of ~450-580 ms from process start to the first `default` served, as the pod runs it (--jitless).
 */
export const SDS_JSON_URL = new URL('./sds-protos.generated.json', import.meta.url);

/** The SDS service, Secret and what they reach, parsed from Envoy's .proto files in @grpc/grpc-js-xds. */
export function parseSdsProtoJson(): ProtoJson {
  return envoyProtoSubsetJson(SDS_PROTO_FILES, [SDS_SERVICE, SECRET_MESSAGE]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(SDS_JSON_URL, JSON.stringify(parseSdsProtoJson()));
  process.stdout.write(`wrote ${fileURLToPath(SDS_JSON_URL)}\n`);
}

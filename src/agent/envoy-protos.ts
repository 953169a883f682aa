import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Envoy's own proto files, as shipped by @grpc/grpc-js-xds, so the agent speaks exactly the schema Envoy
 * compiles against instead of a hand-copied subset.
 */
export function envoyProtoIncludeDirs(): string[] {
  const pkg = dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'udpa', 'googleapis', 'protoc-gen-validate', 'xds'].map((d) => join(pkg, 'deps', d));
}

/** snake_case field names as in the .proto (and in Envoy's JSON/YAML config), bytes as Buffers. */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false };

export function loadEnvoyProtos(files: string[]): protoLoader.PackageDefinition {
  return protoLoader.loadSync(files, { ...PROTO_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
}

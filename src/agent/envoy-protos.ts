import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { loadProtosWithOptionsSync } from '@grpc/proto-loader/build/src/util.js';
import { reachableSubset, type ProtoJson } from './proto-subset.js';

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

/** Every type of `files` and of everything they import (checking a whole Envoy config needs them all). */
export function loadEnvoyProtos(files: string[]): protoLoader.PackageDefinition {
  return protoLoader.loadSync(files, { ...PROTO_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
}

/**
 * Only the services and messages `roots` reach, from the same files, as protobufjs JSON (what the build
 * commits for the agent, sds-types-generate.ts). proto-loader's public loadSync would build a definition
 * for every one of the ~160 types of the tree; this runs its loader step alone (build/src/util: parse and
 * resolve) and keeps what `roots` reach (~45 for SDS): half the live heap of the whole set.
 */
export function envoyProtoSubsetJson(files: string[], roots: string[]): ProtoJson {
  const root = loadProtosWithOptionsSync(files, { ...PROTO_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
  return reachableSubset(root, roots);
}

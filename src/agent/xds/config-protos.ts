import protobuf from 'protobufjs/light.js';
import { CONFIG_TYPES } from './config-types.generated.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from './config-type-names.js';
import { encodeProtoJson } from './proto-json.js';

export interface ConfigProtos {
  encodeListener(listener: unknown): Buffer;
  encodeCluster(cluster: unknown): Buffer;
}

let loaded: ConfigProtos | undefined;

/**
 * The Listener and Cluster types (and what their typed_configs name), from the committed subset, built on the
 * first LDS or CDS response: an agent without Envoy never pays for them.
 */
export function configProtos(): ConfigProtos {
  if (loaded) return loaded;
  const root = protobuf.Root.fromJSON(CONFIG_TYPES as protobuf.INamespace);
  const listener = root.lookupType(LISTENER_TYPE);
  const cluster = root.lookupType(CLUSTER_TYPE);
  loaded = {
    encodeListener: (l) => encodeProtoJson(listener, l, `listener ${name(l)}`),
    encodeCluster: (c) => encodeProtoJson(cluster, c, `cluster ${name(c)}`),
  };
  return loaded;
}

function name(resource: unknown): string {
  return String((resource as { name?: unknown } | null)?.name ?? '?');
}

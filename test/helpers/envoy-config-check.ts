import type { MessageTypeDefinition, EnumTypeDefinition, PackageDefinition } from '@grpc/proto-loader';

/** The proto files whose types an Envoy bootstrap of ours may name (`@type` of typed_config and options). */
export const ENVOY_CONFIG_PROTOS = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/service/listener/v3/lds.proto',
  'envoy/service/cluster/v3/cds.proto',
  'envoy/extensions/matching/common_inputs/network/v3/network_inputs.proto',
];

/** The protos of the RBAC filters the policy code generates for listeners. */
export const ENVOY_RBAC_PROTOS = [
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
];

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

/** Every problem Envoy would refuse `bootstrap` for, each with its path (`bootstrap.static_resources...`). */
export function bootstrapProblems(defs: PackageDefinition, bootstrap: unknown): string[] {
  const problems: string[] = [];
  check(defs, BOOTSTRAP_TYPE, bootstrap, 'bootstrap', problems);
  return problems;
}

/** Every problem Envoy would refuse a listener filter for: its typed_config walked as the Any it is. */
export function filterProblems(defs: PackageDefinition, filter: { name: string; typed_config: unknown }, path: string): string[] {
  const problems: string[] = [];
  check(defs, 'google.protobuf.Any', filter.typed_config, `${path}(${filter.name})`, problems);
  return problems;
}

export const LISTENER_TYPE = 'envoy.config.listener.v3.Listener';
export const CLUSTER_TYPE = 'envoy.config.cluster.v3.Cluster';

/** Every problem Envoy would NACK an LDS or CDS resource for, each with its path (`listener[0].filter_chains...`). */
export function resourceProblems(defs: PackageDefinition, typeName: string, resource: unknown, path: string): string[] {
  const problems: string[] = [];
  check(defs, typeName, resource, path, problems);
  return problems;
}

interface FieldDescriptor { name: string; label: string; type: string; typeName: string }

/**
 * Walks a JSON config against Envoy's reflected proto types: every key must be a field Envoy defines, enums
 * must name a defined value, messages must be objects, repeated fields arrays, and each `@type` must name a
 * loaded message (its content is walked too). Returns every problem found, with its path.
 */
export function check(defs: PackageDefinition, typeName: string, value: unknown, path: string, problems: string[]): void {
  const descriptor = findType(defs, typeName) as MessageDescriptor | null;
  if (!descriptor || !('field' in descriptor)) return void problems.push(`${path}: unknown message type ${typeName}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return void problems.push(`${path}: ${typeName} must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (typeName === 'google.protobuf.Any') {
    const at = (value as Record<string, unknown>)['@type'];
    if (typeof at !== 'string' || !at.startsWith('type.googleapis.com/')) return void problems.push(`${path}: Any without @type`);
    const { ['@type']: _, ...rest } = value as Record<string, unknown>;
    return check(defs, at.slice('type.googleapis.com/'.length), rest, `${path}<${at}>`, problems);
  }
  for (const [key, v] of entries) {
    const field = descriptor.field.find((f) => f.name === key);
    if (!field) {
      problems.push(`${path}.${key}: ${typeName} has no such field`);
      continue;
    }
    const mapEntry = field.type === 'TYPE_MESSAGE' ? (findType(defs, qualify(defs, field.typeName, typeName)) as MessageDescriptor | null) : null;
    if (mapEntry?.options?.mapEntry) {
      // A map (typed_extension_protocol_options): free keys, values of the entry's value type.
      const valueField = mapEntry.field.find((f) => f.name === 'value')!;
      const entryName = qualify(defs, field.typeName, typeName);
      for (const [k, mv] of Object.entries(v as Record<string, unknown>)) check(defs, qualify(defs, valueField.typeName, entryName), mv, `${path}.${key}[${k}]`, problems);
      continue;
    }
    const items = field.label === 'LABEL_REPEATED' ? v : [v];
    if (!Array.isArray(items)) {
      problems.push(`${path}.${key}: repeated field must be an array`);
      continue;
    }
    items.forEach((item, i) => {
      const p = field.label === 'LABEL_REPEATED' ? `${path}.${key}[${i}]` : `${path}.${key}`;
      if (field.type === 'TYPE_MESSAGE') {
        const t = qualify(defs, field.typeName, typeName);
        if (t === 'google.protobuf.Duration') {
          if (typeof item !== 'string' || !/^\d+(\.\d+)?s$/.test(item)) problems.push(`${p}: duration must be like "1s"`);
        } else if (t === 'google.protobuf.BoolValue' || t === 'google.protobuf.UInt32Value') {
          // JSON form of wrappers is the bare value.
        } else check(defs, t, item, p, problems);
      } else if (field.type === 'TYPE_ENUM') {
        const e = findType(defs, qualify(defs, field.typeName, typeName)) as { value: Array<{ name: string }> } | null;
        const values = (e?.value ?? []).map((x) => x.name);
        if (!values.includes(String(item))) problems.push(`${p}: "${String(item)}" is not one of ${values.join(', ')}`);
      } else if (field.type === 'TYPE_STRING' && typeof item !== 'string') problems.push(`${p}: must be a string`);
      else if (field.type === 'TYPE_BOOL' && typeof item !== 'boolean') problems.push(`${p}: must be a boolean`);
      else if (/INT|FIXED/.test(field.type) && typeof item !== 'number') problems.push(`${p}: must be a number`);
    });
  }
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  enumType: Array<{ name: string; value: Array<{ name: string }> }>;
  options?: { mapEntry?: boolean } | null;
}

type Found = MessageDescriptor | { value: Array<{ name: string }> } | null;
const found = new WeakMap<PackageDefinition, Map<string, Found>>();

/** A message or enum by full name (remembered per definition set: 10,000 clusters look the same names up again and again). */
export function findType(defs: PackageDefinition, fullName: string): Found {
  let cache = found.get(defs);
  if (!cache) found.set(defs, (cache = new Map()));
  if (!cache.has(fullName)) cache.set(fullName, lookUp(defs, fullName));
  return cache.get(fullName)!;
}

/** Nested types live inside their parent's descriptor, not at the top. */
function lookUp(defs: PackageDefinition, fullName: string): Found {
  const parts = fullName.split('.');
  for (let i = parts.length; i > 0; i--) {
    const top = defs[parts.slice(0, i).join('.')] as MessageTypeDefinition<unknown, unknown> | EnumTypeDefinition | undefined;
    if (!top || !('format' in top) || typeof top.format !== 'string') continue;
    let node = top.type as unknown as MessageDescriptor | { value: Array<{ name: string }> };
    for (const part of parts.slice(i)) {
      if (!('nestedType' in node)) return null;
      const next: MessageDescriptor | { name: string; value: Array<{ name: string }> } | undefined =
        node.nestedType.find((n) => n.name === part) ?? node.enumType.find((n) => n.name === part);
      if (!next) return null;
      node = next;
    }
    return node;
  }
  return null;
}

/** Resolves a (possibly relative) type reference the way protoc does: innermost scope outwards. */
export function qualify(defs: PackageDefinition, name: string, scope: string): string {
  if (name.startsWith('.')) return name.slice(1);
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), name].join('.');
    if (findType(defs, candidate)) return candidate;
  }
  return name;
}

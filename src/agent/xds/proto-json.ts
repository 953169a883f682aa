import protobuf from 'protobufjs/light.js';

const WRAPPERS = new Set(['BoolValue', 'UInt32Value', 'UInt64Value', 'Int32Value', 'Int64Value', 'DoubleValue', 'FloatValue', 'StringValue'].map((n) => `.google.protobuf.${n}`));

export class ProtoJsonError extends Error {}

/**
 * Envoy's configuration in its JSON form (what the bootstrap, Envoy's docs and the proto checks use: durations as
 * "1s", wrappers as bare values, `@type` in Any) turned into what protobufjs encodes. protobufjs' own fromObject
 * would drop "1s" and bare wrappers silently and knows no field it cannot place; this walk refuses, naming the path.
 */
export function fromProtoJson(type: protobuf.Type, json: unknown, path: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtoJsonError(`${path}: ${type.fullName.slice(1)} must be an object`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field) throw new ProtoJsonError(`${path}.${key}: ${type.fullName.slice(1)} has no such field`);
    const at = `${path}.${key}`;
    if (field instanceof protobuf.MapField) {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fieldValue(field, v, `${at}[${k}]`)]));
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new ProtoJsonError(`${at}: repeated field must be an array`);
      out[key] = value.map((v, i) => fieldValue(field, v, `${at}[${i}]`));
    } else out[key] = fieldValue(field, value, at);
  }
  return out;
}

/** The wire bytes of `json` as a `type`. */
export function encodeProtoJson(type: protobuf.Type, json: unknown, path: string): Buffer {
  return type.encode(type.fromObject(fromProtoJson(type, json, path))).finish() as Buffer;
}

type Kind = 'scalar' | 'duration' | 'wrapper' | 'any' | 'message';

/** protobufjs computes fullName on every read; a field's kind is decided once (10,000 clusters read it ~10^6 times). */
const kinds = new WeakMap<protobuf.Field, Kind>();

function kindOf(field: protobuf.Field): Kind {
  let kind = kinds.get(field);
  if (kind) return kind;
  field.resolve();
  const t = field.resolvedType;
  const name = t instanceof protobuf.Type ? t.fullName : '';
  kind = !name ? 'scalar' : name === '.google.protobuf.Duration' ? 'duration' : WRAPPERS.has(name) ? 'wrapper' : name === '.google.protobuf.Any' ? 'any' : 'message';
  kinds.set(field, kind);
  return kind;
}

function fieldValue(field: protobuf.Field, value: unknown, path: string): unknown {
  switch (kindOf(field)) {
    case 'scalar': return value;
    case 'duration': return duration(value, path);
    case 'wrapper': return { value };
    case 'any': return any(field.resolvedType as protobuf.Type, value, path);
    default: return fromProtoJson(field.resolvedType as protobuf.Type, value, path);
  }
}

function duration(value: unknown, path: string): { seconds: number; nanos: number } {
  const m = typeof value === 'string' ? /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value) : null;
  if (!m) throw new ProtoJsonError(`${path}: duration must be like "1s" or "0.25s"`);
  return { seconds: Number(m[1]), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

const byName = new WeakMap<protobuf.Root, Map<string, protobuf.Type | null>>();

function messageNamed(root: protobuf.Root, name: string): protobuf.Type | null {
  let cache = byName.get(root);
  if (!cache) byName.set(root, (cache = new Map()));
  let t = cache.get(name);
  if (t === undefined) {
    const found = root.lookup(name);
    t = found instanceof protobuf.Type ? found : null;
    cache.set(name, t);
  }
  return t;
}

/**
 * Encoded Any contents by their JSON text: across a large mesh most typed_configs repeat (the TLS context of every
 * destination with the same identities, the RBAC filters of every chain), and stringifying is far cheaper than
 * walking and encoding again. Bounded, so a long-lived agent does not keep every configuration it ever sent.
 */
const anyCache = new Map<string, Buffer>();
const ANY_CACHE_MAX = 50_000;

function any(anyType: protobuf.Type, value: unknown, path: string): { type_url: string; value: Buffer } {
  const key = JSON.stringify(value);
  const cached = anyCache.get(key);
  if (cached) return { type_url: (value as { '@type': string })['@type'], value: cached };
  const encoded = encodeAny(anyType, value, path);
  if (anyCache.size >= ANY_CACHE_MAX) anyCache.clear();
  anyCache.set(key, encoded.value);
  return encoded;
}

function encodeAny(anyType: protobuf.Type, value: unknown, path: string): { type_url: string; value: Buffer } {
  const { '@type': url, ...rest } = (value ?? {}) as Record<string, unknown>;
  if (typeof url !== 'string' || !url.startsWith('type.googleapis.com/')) throw new ProtoJsonError(`${path}: Any needs "@type": "type.googleapis.com/<message>"`);
  const name = url.slice('type.googleapis.com/'.length);
  const inner = messageNamed(anyType.root, name);
  if (!inner) throw new ProtoJsonError(`${path}: @type ${name} is not a message the agent knows`);
  return { type_url: url, value: encodeProtoJson(inner, rest, `${path}<${name}>`) };
}

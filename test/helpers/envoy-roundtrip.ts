import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { findType, qualify } from './envoy-config-check.js';

interface Field { name: string; label: string; type: string; typeName: string }
interface Message { field: Field[]; options?: { mapEntry?: boolean } | null }
interface Enum { value: Array<{ name: string; number: number }> }

type Json = Record<string, unknown>;

/**
 * Bytes as Envoy reads them: decoded with Envoy's full proto definitions (proto-loader), then written back in
 * the JSON form the agent builds its resources in (durations "1s", bare wrappers, Any as `@type` + fields).
 * Comparing that to what the agent meant to send shows the encoding lost or changed nothing.
 */
export function decodeToJson(defs: PackageDefinition, typeName: string, bytes: Buffer): Json {
  const type = defs[typeName] as MessageTypeDefinition<Json, Json> | undefined;
  if (!type) throw new Error(`${typeName} is not loaded`);
  return toJson(defs, typeName, type.deserialize(bytes));
}

function toJson(defs: PackageDefinition, typeName: string, value: Json): Json {
  const d = findType(defs, typeName) as unknown as Message;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const f = d.field.find((x) => x.name === key)!;
    const conv = (item: unknown) => fieldToJson(defs, f, typeName, item);
    const entry = f.type === 'TYPE_MESSAGE' ? (findType(defs, qualify(defs, f.typeName, typeName)) as unknown as Message | null) : null;
    if (entry?.options?.mapEntry) {
      const vf = entry.field.find((x) => x.name === 'value')!;
      const entryName = qualify(defs, f.typeName, typeName);
      out[key] = Object.fromEntries(Object.entries(v as Json).map(([k, mv]) => [k, fieldToJson(defs, vf, entryName, mv)]));
    } else out[key] = Array.isArray(v) ? v.map(conv) : conv(v);
  }
  return out;
}

function fieldToJson(defs: PackageDefinition, f: Field, scope: string, v: unknown): unknown {
  if (f.type !== 'TYPE_MESSAGE') return v;
  const t = qualify(defs, f.typeName, scope);
  if (t === 'google.protobuf.Duration') {
    const { seconds = '0', nanos = 0 } = v as { seconds?: string; nanos?: number };
    return nanos ? `${seconds}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}s` : `${seconds}s`;
  }
  if (/^google\.protobuf\.(Bool|U?Int(32|64)|Double|Float|String)Value$/.test(t)) return (v as { value?: unknown }).value ?? defaultOf(t);
  if (t === 'google.protobuf.Any') {
    const { type_url, value } = v as { type_url: string; value: Buffer };
    return { '@type': type_url, ...decodeToJson(defs, type_url.slice(type_url.indexOf('/') + 1), value) };
  }
  return toJson(defs, t, v as Json);
}

function defaultOf(wrapper: string): unknown {
  return wrapper.startsWith('google.protobuf.Bool') ? false : wrapper.startsWith('google.protobuf.String') ? '' : 0;
}

/**
 * `json` without what proto3 does not put on the wire (false, 0, "", enum value 0, empty lists), so it can be
 * compared with what decodeToJson gives back.
 */
export function withoutDefaults(defs: PackageDefinition, typeName: string, json: Json): Json {
  if (typeName === 'google.protobuf.Any') {
    const at = String(json['@type']);
    return { '@type': at, ...withoutDefaults(defs, at.slice(at.indexOf('/') + 1), Object.fromEntries(Object.entries(json).filter(([k]) => k !== '@type'))) };
  }
  const d = findType(defs, typeName) as unknown as Message;
  const out: Json = {};
  for (const [key, v] of Object.entries(json)) {
    const f = d.field.find((x) => x.name === key)!;
    if (f.type === 'TYPE_MESSAGE') {
      const t = qualify(defs, f.typeName, typeName);
      const entry = findType(defs, t) as unknown as Message;
      if (entry?.options?.mapEntry) {
        const vt = qualify(defs, entry.field.find((x) => x.name === 'value')!.typeName, t);
        out[key] = Object.fromEntries(Object.entries(v as Json).map(([k, mv]) => [k, isPlain(vt) ? mv : withoutDefaults(defs, vt, mv as Json)]));
      } else if (Array.isArray(v)) {
        if (v.length) out[key] = v.map((x) => (isPlain(t) ? x : withoutDefaults(defs, t, x as Json)));
      } else out[key] = isPlain(t) ? v : withoutDefaults(defs, t, v as Json);
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length) out[key] = v;
      continue;
    }
    if (v === false || v === 0 || v === '') continue;
    if (f.type === 'TYPE_ENUM' && (findType(defs, qualify(defs, f.typeName, typeName)) as unknown as Enum).value.find((x) => x.name === v)?.number === 0) continue;
    out[key] = v;
  }
  return out;
}

/** Duration and wrappers are written as scalars, so their JSON has nothing to strip. */
function isPlain(t: string): boolean {
  return t === 'google.protobuf.Duration' || /^google\.protobuf\.\w+Value$/.test(t);
}

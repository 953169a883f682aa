import { MAX_VALUE_LENGTH } from './values.js';

/** Generic checks for an untrusted parsed object: types, closed field sets, bounded lists. */

export const MAX_LIST = 1000;
/** Problems kept per object: enough to fix a file in one pass; the rest are counted (the object is small). */
export const MAX_PROBLEMS = 20;

export class Problems {
  readonly list: string[] = [];
  private dropped = 0;

  add(path: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(`${path}: ${message}`);
    else this.dropped++;
  }

  get any(): boolean {
    return this.list.length > 0;
  }

  summary(): string[] {
    return this.dropped ? [...this.list, `... and ${this.dropped} more problems`] : [...this.list];
  }
}

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A value as it is quoted in a message: short, and always one line. */
export function quote(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
}

/** `path.key` for a plain name; any other key (a newline, a 60 KB key) is quoted, so a message stays one line. */
export function fieldPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? `${path}.${key}` : `${path}[${quote(key)}]`;
}

/** An object with only `allowed` keys; Istio fields meshid does not implement get their own message. */
export function record(v: unknown, path: string, p: Problems, allowed: readonly string[], unsupported: readonly string[] = []): Json | undefined {
  if (!isRecord(v)) {
    p.add(path, `must be an object, not ${typeName(v)}`);
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    if (unsupported.includes(key)) p.add(fieldPath(path, key), 'is an Istio field meshid does not support');
    else p.add(fieldPath(path, key), `is not a field here (expected ${allowed.join(', ')})`);
  }
  return v;
}

export function list(v: unknown, path: string, p: Problems, max = MAX_LIST): unknown[] | undefined {
  if (!Array.isArray(v)) {
    p.add(path, `must be a list, not ${typeName(v)}`);
    return undefined;
  }
  if (v.length > max) {
    p.add(path, `has ${v.length} entries; at most ${max} are allowed`);
    return undefined;
  }
  return v;
}

/** A list of strings each passing `check`; empty lists are "not set" (proto3), so they come back undefined. */
export function stringList(v: unknown, path: string, p: Problems, check: (s: string) => string | undefined): string[] | undefined {
  const items = list(v, path, p);
  if (!items) return undefined;
  const out: string[] = [];
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (typeof item !== 'string') return p.add(at, `must be a string, not ${typeName(item)}`);
    if (item.length > MAX_VALUE_LENGTH) return p.add(at, `is longer than ${MAX_VALUE_LENGTH} characters`);
    const problem = check(item);
    if (problem) return p.add(at, `${quote(item)} ${problem}`);
    out.push(item);
  });
  return out.length ? out : undefined;
}

export function enumValue<T extends string>(v: unknown, path: string, p: Problems, values: readonly T[]): T | undefined {
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  p.add(path, `${typeof v === 'string' ? quote(v) : typeName(v)} is not one of ${values.join(', ')}`);
  return undefined;
}

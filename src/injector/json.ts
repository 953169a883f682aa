/**
 * JSON text for patch values, reusing the text of the parts of a sidecar that are the same for every
 * pod. Serializing the init and proxy containers was a third of the time to answer a review, yet
 * they change only with the configuration and the pod's overrides.
 *
 * Output is exactly `JSON.stringify`'s for JSON data. Values with recorded text are frozen, so the
 * text can never go stale.
 */
const TEXT = new WeakMap<object, string>();
const SPLITS = new WeakMap<object, Map<string, [before: string, after: string]>>();

/** What `JSON.stringify` leaves out of objects and writes as null in arrays. */
const absent = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** Deep-freezes a rendered value and records the JSON text of it and of every object inside it. */
export function rendered<T>(value: T): T {
  record(value);
  return value;
}

function record(v: unknown): void {
  if (typeof v !== 'object' || v === null || TEXT.has(v)) return;
  for (const child of Object.values(v)) record(child);
  Object.freeze(v);
  TEXT.set(v, toJson(v));
}

/** `[...base, item]` for a rendered array, frozen, its text the base's with the item's appended. */
export function withItem<T>(base: readonly T[], item: T): T[] {
  const baseText = textOf(base);
  const out = Object.freeze([...base, item]) as T[];
  TEXT.set(out, `${baseText.slice(0, -1)}${base.length === 0 ? '' : ','}${absent(item) ? 'null' : toJson(item)}]`);
  return out;
}

/** `{ ...base, [key]: value }` for a rendered object that has `key`, frozen, its text spliced. */
export function withKey<T extends object, K extends keyof T & string>(base: T, key: K, value: T[K]): T {
  if (absent(base[key]) || absent(value)) throw new Error(`withKey: ${key} must be present before and after`);
  const [before, after] = splitAt(base, key);
  const out = Object.freeze({ ...base, [key]: value });
  TEXT.set(out, before + toJson(value) + after);
  return out;
}

/** The text of `base` before and after the value of `key`, worked out once per rendered object. */
function splitAt(base: object, key: string): [string, string] {
  let byKey = SPLITS.get(base);
  if (!byKey) SPLITS.set(base, (byKey = new Map()));
  let split = byKey.get(key);
  if (!split) {
    textOf(base);
    const entries = Object.entries(base).filter(([, v]) => !absent(v));
    const at = entries.findIndex(([k]) => k === key);
    const text = (list: Array<[string, unknown]>) => list.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',');
    const rest = entries.slice(at + 1);
    split = [`{${text(entries.slice(0, at))}${at > 0 ? ',' : ''}${JSON.stringify(key)}:`, `${rest.length > 0 ? ',' : ''}${text(rest)}}`];
    byKey.set(key, split);
  }
  return split;
}

function textOf(v: object): string {
  const text = TEXT.get(v);
  if (text === undefined) throw new Error('only a rendered value can be extended');
  return text;
}

export function toJson(v: unknown): string {
  const parts: string[] = [];
  writeJson(v, parts);
  return parts.join('');
}

/**
 * Appends the JSON text of `v` to `parts`; joining once at the end gives one flat string, where
 * concatenating as it goes would build a rope that every later reader has to flatten. Arrays are
 * walked so that rendered items among the pod's own are copied as text; anything else without
 * recorded text goes to `JSON.stringify` whole.
 */
export function writeJson(v: unknown, parts: string[]): void {
  if (typeof v !== 'object' || v === null) {
    parts.push(JSON.stringify(v));
    return;
  }
  const known = TEXT.get(v);
  if (known !== undefined) {
    parts.push(known);
  } else if (Array.isArray(v)) {
    parts.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) parts.push(',');
      if (absent(v[i])) parts.push('null');
      else writeJson(v[i], parts);
    }
    parts.push(']');
  } else {
    parts.push(JSON.stringify(v));
  }
}


import { writeJson } from './json.js';
import { isObject } from './types.js';

/** One RFC 6902 operation; the diff only ever needs these three. */
export type Operation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/**
 * The RFC 6902 patch from the admitted pod to the injected one, computed as their difference
 * (Istio's approach) rather than assembled by hand, so JSON Pointer escaping and fields that do not
 * exist yet are right by construction. Subtrees the injector left alone are shared by reference and
 * skipped without walking, so a pod with huge env lists costs no more than a small one.
 *
 * The operations apply with any RFC 6902 library (the tests use fast-json-patch). Unlike that
 * library's `compare`, added values are not deep-copied (the copy was 40% of the time to answer a
 * review, and the values here are serialized straight away and never mutated), and list items kept
 * at either end are matched, so an insertion is one `add` (see diffArrays).
 */
export function diffPatch(original: unknown, mutated: unknown): Operation[] {
  const ops: Operation[] = [];
  diff(original, mutated, '', ops);
  return ops;
}

// Most keys need no escaping; testing first spares two regex replacements per key.
const escape = (key: string) => (/[~/]/.test(key) ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key);
const isContainer = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function diff(a: unknown, b: unknown, path: string, ops: Operation[]): void {
  if (a === b) return;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) {
    if (a !== b) ops.push({ op: 'replace', path, value: b });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    diffArrays(a, b, path, ops);
    return;
  }
  for (const key of Object.keys(a)) {
    const av = a[key];
    const bv = b[key];
    // Shared and equal fields are most of a pod: skip them before building a path.
    if (av === bv) continue;
    if (bv === undefined || !Object.hasOwn(b, key)) {
      if (av !== undefined) ops.push({ op: 'remove', path: `${path}/${escape(key)}` });
    } else {
      diff(av, bv, `${path}/${escape(key)}`, ops);
    }
  }
  for (const key of Object.keys(b)) {
    if (b[key] !== undefined && (!Object.hasOwn(a, key) || a[key] === undefined)) {
      ops.push({ op: 'add', path: `${path}/${escape(key)}`, value: b[key] });
    }
  }
}

/** The same item, or a named item (container, volume, env var) changed in place. */
const sameItem = (x: unknown, y: unknown) =>
  x === y || (isObject(x) && isObject(y) && typeof x.name === 'string' && x.name === y.name);

/**
 * Items matched at the front and at the back are diffed in place, so the sidecar inserted before
 * the user's init containers (or the proxy before the app containers) is an `add`, not a rewrite of
 * every item after it with all its env vars. What is left in the middle is paired by position;
 * surplus items are removed or added there.
 */
function diffArrays(a: unknown[], b: unknown[], path: string, ops: Operation[]): void {
  let head = 0;
  while (head < a.length && head < b.length && sameItem(a[head], b[head])) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && sameItem(a[a.length - 1 - tail], b[b.length - 1 - tail])) tail++;
  const aEnd = a.length - tail;
  const bEnd = b.length - tail;
  const paired = head + Math.min(aEnd - head, bEnd - head);
  for (let i = 0; i < paired; i++) if (a[i] !== b[i]) diff(a[i], b[i], `${path}/${i}`, ops);
  // Until the middle is resized below, the tail still sits at a's indices.
  for (let i = aEnd; i < a.length; i++) if (a[i] !== b[i - aEnd + bEnd]) diff(a[i], b[i - aEnd + bEnd], `${path}/${i}`, ops);
  // Removals run from the end so earlier indices stay valid while the patch applies.
  for (let i = aEnd - 1; i >= paired; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
  for (let i = paired; i < bEnd; i++) ops.push({ op: 'add', path: `${path}/${i}`, value: b[i] });
}

/** `JSON.stringify(ops)`, with the rendered sidecar parts copied as text instead of serialized again. */
export function patchJson(ops: Operation[]): string {
  const parts: string[] = ['['];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    parts.push(i === 0 ? '{"op":"' : ',{"op":"', op.op, '","path":', JSON.stringify(op.path));
    if (op.op !== 'remove' && op.value !== undefined) {
      parts.push(',"value":');
      writeJson(op.value, parts);
    }
    parts.push('}');
  }
  parts.push(']');
  return parts.join('');
}

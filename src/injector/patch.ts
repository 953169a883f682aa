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
 * Same output shape as fast-json-patch's `compare` (which the tests use to apply patches), minus its
 * deep copy of every added value: that copy was 40% of the time to answer a review, and the values
 * here are serialized straight away and never mutated.
 */
export function diffPatch(original: unknown, mutated: unknown): Operation[] {
  const ops: Operation[] = [];
  diff(original, mutated, '', ops);
  return ops;
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const isContainer = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function diff(a: unknown, b: unknown, path: string, ops: Operation[]): void {
  if (a === b) return;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) {
    if (a !== b) ops.push({ op: 'replace', path, value: b });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const common = Math.min(a.length, b.length);
    // Removals run from the end so earlier indices stay valid while the patch applies.
    for (let i = a.length - 1; i >= common; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
    for (let i = 0; i < common; i++) diff(a[i], b[i], `${path}/${i}`, ops);
    for (let i = common; i < b.length; i++) ops.push({ op: 'add', path: `${path}/${i}`, value: b[i] });
    return;
  }
  for (const key of Object.keys(a)) {
    const p = `${path}/${escape(key)}`;
    if (!Object.hasOwn(b, key) || b[key] === undefined) {
      if (a[key] !== undefined) ops.push({ op: 'remove', path: p });
    } else {
      diff(a[key], b[key], p, ops);
    }
  }
  for (const key of Object.keys(b)) {
    if (b[key] !== undefined && (!Object.hasOwn(a, key) || a[key] === undefined)) {
      ops.push({ op: 'add', path: `${path}/${escape(key)}`, value: b[key] });
    }
  }
}

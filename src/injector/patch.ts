import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type { Operation };

/**
 * The RFC 6902 patch from the admitted pod to the injected one, computed as their difference
 * (Istio's approach) rather than assembled by hand, so JSON Pointer escaping and fields that do not
 * exist yet are right by construction. Subtrees the injector left alone are shared by reference,
 * which the diff skips without walking: a pod with huge env lists costs no more than a small one.
 */
export function diffPatch(original: object, mutated: object): Operation[] {
  return jsonpatch.compare(original, mutated);
}

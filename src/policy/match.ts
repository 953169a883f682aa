/**
 * Istio's value matching for AuthorizationPolicy strings: `*` alone is presence, a leading `*` a suffix match, a
 * trailing `*` a prefix match, anything else exact. Both the validator and the RBAC translation read values
 * through this one parser, so what is accepted is what is enforced.
 */
export type Match =
  | { kind: 'any' }
  | { kind: 'exact'; text: string }
  | { kind: 'prefix'; text: string }
  | { kind: 'suffix'; text: string };

export function parseMatch(value: string): Match {
  if (value === '*') return { kind: 'any' };
  if (value.startsWith('*')) return { kind: 'suffix', text: value.slice(1) };
  if (value.endsWith('*')) return { kind: 'prefix', text: value.slice(0, -1) };
  return { kind: 'exact', text: value };
}

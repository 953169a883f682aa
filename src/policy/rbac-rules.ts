import type { AuthorizationPolicySpec, PolicyOperation, PolicySource } from '../mesh/view.js';
import { type Match, parseMatch } from './match.js';

/**
 * One AuthorizationPolicy rule as an Envoy RBAC policy (envoy.config.rbac.v3.Policy, proto3 JSON): `from`
 * entries become the OR'ed principals, `to` entries the OR'ed permissions, the fields inside one entry AND'ed.
 */

type Json = Record<string, unknown>;
export type Rule = NonNullable<AuthorizationPolicySpec['rules']>[number];

const HTTP_FIELDS = ['methods', 'notMethods', 'paths', 'notPaths'] as const;

export function hasHttpFields(rule: Rule): boolean {
  return (rule.to ?? []).some(({ operation }) => HTTP_FIELDS.some((f) => operation[f] !== undefined));
}

/** The rule as it can be matched on a connection: its HTTP-only fields dropped. */
export function withoutHttpFields(rule: Rule): Rule {
  if (!rule.to) return rule;
  return {
    ...rule,
    to: rule.to.map(({ operation }) => {
      const { methods: _m, notMethods: _nm, paths: _p, notPaths: _np, ...l4 } = operation;
      return { operation: l4 };
    }),
  };
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Presence is a non-empty regex: StringMatcher's prefix and suffix must not be empty. */
function stringMatcher(m: Match, exactPrefix = ''): Json {
  switch (m.kind) {
    case 'any': return { safe_regex: { regex: '.+' } };
    case 'exact': return { exact: exactPrefix + m.text };
    case 'prefix': return { prefix: exactPrefix + m.text };
    case 'suffix': return { suffix: m.text };
  }
}

/** A namespace is matched in the peer's SPIFFE ID path, as Istio does: `.../ns/<namespace>/...`. */
function namespaceRegex(m: Match): string {
  switch (m.kind) {
    case 'any': return '.*/ns/[^/]+/.*';
    case 'exact': return `.*/ns/${escapeRegex(m.text)}/.*`;
    case 'prefix': return `.*/ns/${escapeRegex(m.text)}[^/]*/.*`;
    case 'suffix': return `.*/ns/[^/]*${escapeRegex(m.text)}/.*`;
  }
}

function anyOf(key: 'or_ids' | 'or_rules', items: Json[]): Json {
  return items.length === 1 ? items[0]! : { [key]: key === 'or_ids' ? { ids: items } : { rules: items } };
}

function allOf(key: 'and_ids' | 'and_rules', items: Json[]): Json {
  if (items.length === 0) return { any: true };
  return items.length === 1 ? items[0]! : { [key]: key === 'and_ids' ? { ids: items } : { rules: items } };
}

const authenticated = (principalName: Json): Json => ({ authenticated: { principal_name: principalName } });

function sourcePrincipal(s: PolicySource): Json {
  const parts: Json[] = [];
  const principals = (vs: string[]) => anyOf('or_ids', vs.map((v) => authenticated(stringMatcher(parseMatch(v), 'spiffe://'))));
  const namespaces = (vs: string[]) => anyOf('or_ids', vs.map((v) => authenticated({ safe_regex: { regex: namespaceRegex(parseMatch(v)) } })));
  if (s.principals) parts.push(principals(s.principals));
  if (s.notPrincipals) parts.push({ not_id: principals(s.notPrincipals) });
  if (s.namespaces) parts.push(namespaces(s.namespaces));
  if (s.notNamespaces) parts.push({ not_id: namespaces(s.notNamespaces) });
  return allOf('and_ids', parts);
}

function operationPermission(o: PolicyOperation): Json {
  const parts: Json[] = [];
  const ports = (vs: string[]) => anyOf('or_rules', vs.map((v) => ({ destination_port: Number(v) })));
  const methods = (vs: string[]) => anyOf('or_rules', vs.map((v) => ({ header: { name: ':method', string_match: stringMatcher(parseMatch(v)) } })));
  const paths = (vs: string[]) => anyOf('or_rules', vs.map((v) => ({ url_path: { path: stringMatcher(parseMatch(v)) } })));
  if (o.ports) parts.push(ports(o.ports));
  if (o.notPorts) parts.push({ not_rule: ports(o.notPorts) });
  if (o.methods) parts.push(methods(o.methods));
  if (o.notMethods) parts.push({ not_rule: methods(o.notMethods) });
  if (o.paths) parts.push(paths(o.paths));
  if (o.notPaths) parts.push({ not_rule: paths(o.notPaths) });
  return allOf('and_rules', parts);
}

/** Envoy requires at least one of each: a rule with no `from` (or `to`) matches any peer (or operation). */
export function envoyPolicy(rule: Rule): Json {
  return {
    permissions: rule.to ? rule.to.map(({ operation }) => operationPermission(operation)) : [{ any: true }],
    principals: rule.from ? rule.from.map(({ source }) => sourcePrincipal(source)) : [{ any: true }],
  };
}

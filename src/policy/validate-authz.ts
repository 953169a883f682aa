import type { AuthorizationPolicySpec, PolicyOperation, PolicySource } from '../mesh/view.js';
import { enumValue, type Json, list, type Problems, record, stringList } from './shape.js';
import { validateSelector } from './validate-selector.js';
import { methodProblem, namespaceProblem, pathProblem, portProblem, principalProblem } from './values.js';

export const AUTHORIZATION_POLICY_FIELDS = ['selector', 'action', 'rules'] as const;
export const RULE_FIELDS = ['from', 'to'] as const;
export const FROM_FIELDS = ['source'] as const;
export const TO_FIELDS = ['operation'] as const;
export const ACTIONS = ['ALLOW', 'DENY'] as const;
export const MAX_RULES = 1000;

/** Each field of a source or operation and how its values are checked. */
export const SOURCE_CHECKS: Record<keyof PolicySource, (s: string) => string | undefined> = {
  principals: principalProblem, notPrincipals: principalProblem, namespaces: namespaceProblem, notNamespaces: namespaceProblem,
};
export const OPERATION_CHECKS: Record<keyof PolicyOperation, (s: string) => string | undefined> = {
  ports: portProblem, notPorts: portProblem, methods: methodProblem, notMethods: methodProblem, paths: pathProblem, notPaths: pathProblem,
};

/** Istio fields meshid does not implement: refused by name, never silently ignored (ignoring one widens access). */
const ISTIO_ONLY = {
  spec: ['targetRef', 'targetRefs', 'provider'],
  rule: ['when'],
  source: ['requestPrincipals', 'notRequestPrincipals', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'],
  operation: ['hosts', 'notHosts'],
};

/** A source or operation: the fields `checks` knows, each value checked; one with none set is refused, as Istio does. */
function fields<T extends object>(v: unknown, path: string, p: Problems, checks: Record<keyof T, (s: string) => string | undefined>, istioOnly: string[]): T | undefined {
  const names = Object.keys(checks) as Array<keyof T & string>;
  const obj = record(v, path, p, names, istioOnly);
  if (!obj) return undefined;
  const out: Partial<T> = {};
  const before = p.list.length;
  for (const name of names) {
    if (obj[name] === undefined) continue;
    const values = stringList(obj[name], `${path}.${name}`, p, checks[name]);
    if (values) (out as Record<string, string[]>)[name] = values;
  }
  if (Object.keys(out).length === 0 && p.list.length === before) p.add(path, 'must not be empty');
  return out as T;
}

/** `from` or `to`: a list of {source} or {operation}; set but empty is refused, as Istio does. */
function clauses<T extends object>(v: unknown, path: string, p: Problems, key: 'source' | 'operation', checks: Record<keyof T, (s: string) => string | undefined>, istioOnly: string[]): Array<Record<string, T>> | undefined {
  const items = list(v, path, p);
  if (!items) return undefined;
  if (items.length === 0) p.add(path, 'must not be empty (leave it out to match any)');
  const out: Array<Record<string, T>> = [];
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    const clause = record(item, at, p, [key]);
    if (!clause) return;
    if (clause[key] === undefined) return p.add(`${at}.${key}`, 'is required');
    const body = fields<T>(clause[key], `${at}.${key}`, p, checks, istioOnly);
    if (body) out.push({ [key]: body });
  });
  return out;
}

export function validateAuthorizationPolicySpec(spec: Json, p: Problems): AuthorizationPolicySpec {
  record(spec, 'spec', p, AUTHORIZATION_POLICY_FIELDS, ISTIO_ONLY.spec);
  const out: AuthorizationPolicySpec = {};
  const selector = spec.selector === undefined ? undefined : validateSelector(spec.selector, 'spec.selector', p);
  if (selector) out.selector = selector;
  if (spec.action !== undefined) {
    if (spec.action === 'CUSTOM' || spec.action === 'AUDIT') p.add('spec.action', `${spec.action} is an Istio action meshid does not support (ALLOW, DENY)`);
    else {
      const action = enumValue(spec.action, 'spec.action', p, ACTIONS);
      if (action) out.action = action;
    }
  }
  if (spec.rules === undefined) return out;
  const rules = list(spec.rules, 'spec.rules', p, MAX_RULES);
  if (!rules) return out;
  out.rules = [];
  rules.forEach((r, i) => {
    const at = `spec.rules[${i}]`;
    const rule = record(r, at, p, RULE_FIELDS, ISTIO_ONLY.rule);
    if (!rule) return;
    const checked: NonNullable<AuthorizationPolicySpec['rules']>[number] = {};
    if (rule.from !== undefined) {
      const from = clauses<PolicySource>(rule.from, `${at}.from`, p, 'source', SOURCE_CHECKS, ISTIO_ONLY.source);
      if (from?.length) checked.from = from as Array<{ source: PolicySource }>;
    }
    if (rule.to !== undefined) {
      const to = clauses<PolicyOperation>(rule.to, `${at}.to`, p, 'operation', OPERATION_CHECKS, ISTIO_ONLY.operation);
      if (to?.length) checked.to = to as Array<{ operation: PolicyOperation }>;
    }
    out.rules!.push(checked);
  });
  return out;
}

import { appliesTo } from '../mesh/select.js';
import type { AuthorizationPolicySpec, InboundPort, PolicyObject, WorkloadView } from '../mesh/view.js';
import type { EnvoyFilter } from './plan.js';
import { envoyPolicy, hasHttpFields, type Rule, withoutHttpFields } from './rbac-rules.js';

export const NETWORK_RBAC = { name: 'envoy.filters.network.rbac', type: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC' } as const;
export const HTTP_RBAC = { name: 'envoy.filters.http.rbac', type: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' } as const;

type Action = 'ALLOW' | 'DENY';
type Policy = PolicyObject<AuthorizationPolicySpec>;
interface NamedRule { name: string; rule: Rule }

export interface PortRbac {
  network: EnvoyFilter[];
  http: EnvoyFilter[];
}

function rulesOf(policies: Policy[]): NamedRule[] {
  return policies.flatMap((p) => (p.spec.rules ?? []).map((rule, i) => ({ name: `${p.namespace}/${p.name}[${i}]`, rule })));
}

function filter(kind: typeof NETWORK_RBAC | typeof HTTP_RBAC, action: Action, rules: NamedRule[]): EnvoyFilter {
  const config: EnvoyFilter['typed_config'] = {
    '@type': kind.type,
    rules: { action, policies: Object.fromEntries(rules.map((r) => [r.name, envoyPolicy(r.rule)])) },
  };
  if (kind === NETWORK_RBAC) config.stat_prefix = `meshid_${action.toLowerCase()}.`;
  return { name: kind.name, typed_config: config };
}

/**
 * The AuthorizationPolicies of the view as Envoy RBAC filters for one inbound port (`null`: the ports no Service
 * declares, taken as TCP). Each layer runs its DENY filter before its ALLOW filter; there is an ALLOW filter as
 * soon as one ALLOW policy applies, so one whose rules match nothing (an empty spec) denies everything.
 *
 * Methods and paths cannot be seen on a connection. On a TCP port Istio drops an ALLOW rule that names them and
 * matches a DENY rule on its other fields (denying more, never less). On an HTTP port the network filters hold
 * what is decidable per connection (DENY rules without HTTP fields; every ALLOW rule relaxed to its L4 part) and
 * the HTTP filters the rest, with whole rules, so a rule's fields are never matched apart from one another.
 */
export function rbacFilters(view: Pick<WorkloadView, 'pod' | 'rootNamespace' | 'authorizationPolicies'>, port: InboundPort | null): PortRbac {
  const applying = view.authorizationPolicies.filter((p) => appliesTo(view.pod, p, view.rootNamespace));
  const deny = rulesOf(applying.filter((p) => p.spec.action === 'DENY'));
  const allowPolicies = applying.filter((p) => p.spec.action !== 'DENY');
  const allow = rulesOf(allowPolicies);
  const l4 = (rs: NamedRule[]) => rs.map((r) => ({ ...r, rule: withoutHttpFields(r.rule) }));
  const http = port?.http === true;
  const out: PortRbac = { network: [], http: [] };

  const networkDeny = http ? deny.filter((r) => !hasHttpFields(r.rule)) : l4(deny);
  if (networkDeny.length) out.network.push(filter(NETWORK_RBAC, 'DENY', networkDeny));
  if (allowPolicies.length) out.network.push(filter(NETWORK_RBAC, 'ALLOW', http ? l4(allow) : allow.filter((r) => !hasHttpFields(r.rule))));
  if (!http) return out;

  const httpDeny = deny.filter((r) => hasHttpFields(r.rule));
  if (httpDeny.length) out.http.push(filter(HTTP_RBAC, 'DENY', httpDeny));
  if (allow.some((r) => hasHttpFields(r.rule))) out.http.push(filter(HTTP_RBAC, 'ALLOW', allow));
  return out;
}

import type { EnvoyFilter } from '../../src/policy/plan.js';

/**
 * What Envoy's RBAC filters decide for one request, read from the generated JSON by Envoy's documented
 * semantics (envoy.config.rbac.v3): a filter's policies match when any policy has a matching permission and a
 * matching principal; ALLOW lets through what matches, DENY what does not; `rules` absent enforces nothing.
 * Network filters run on the connection, then HTTP filters on the request. Written from the protos, not from
 * src/policy, so a test checks what Envoy would do with our config. Anything it does not model throws: a
 * generated shape it cannot judge fails the test instead of passing it.
 */

export interface Request {
  /** The peer's URI SAN from mesh mTLS; null for plaintext. */
  principal: string | null;
  port: number;
  method?: string;
  /** The `:path` header; Envoy's url_path matches it without query and fragment. */
  path?: string;
}

type Json = Record<string, unknown>;
const TYPES: Record<string, string> = {
  'envoy.filters.network.rbac': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.filters.http.rbac': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
};

export function decide(filters: { network: EnvoyFilter[]; http: EnvoyFilter[] }, req: Request): 'allow' | 'deny' {
  for (const f of filters.network) if (!passes(f, req, false)) return 'deny';
  for (const f of filters.http) {
    if (req.method === undefined || req.path === undefined) throw new Error('an HTTP RBAC filter needs a request with method and path');
    if (!passes(f, req, true)) return 'deny';
  }
  return 'allow';
}

function passes(f: EnvoyFilter, req: Request, http: boolean): boolean {
  if (f.typed_config['@type'] !== TYPES[f.name]) throw new Error(`${f.name}: @type ${f.typed_config['@type']}`);
  if ((f.name === 'envoy.filters.http.rbac') !== http) throw new Error(`${f.name} in the ${http ? 'HTTP' : 'network'} chain`);
  const rules = f.typed_config.rules as Json | undefined;
  if (!rules) return true;
  const action = (rules.action as string | undefined) ?? 'ALLOW';
  const policies = Object.values((rules.policies as Record<string, Json> | undefined) ?? {});
  const matched = policies.some((p) => policyMatches(p, req, http));
  if (action === 'ALLOW') return matched;
  if (action === 'DENY') return !matched;
  throw new Error(`action ${action}`);
}

function policyMatches(p: Json, req: Request, http: boolean): boolean {
  const permissions = p.permissions as Json[];
  const principals = p.principals as Json[];
  if (!permissions?.length || !principals?.length) throw new Error('a Policy needs at least one permission and one principal (min_items: 1)');
  return permissions.some((x) => permission(x, req, http)) && principals.some((x) => principal(x, req));
}

/** The one field set of a oneof (validate.required): zero or two is a config Envoy refuses. */
function only(o: Json): [string, unknown] {
  const entries = Object.entries(o);
  if (entries.length !== 1) throw new Error(`oneof with ${entries.length} fields set: ${JSON.stringify(o)}`);
  return entries[0]!;
}

function permission(x: Json, req: Request, http: boolean): boolean {
  const [key, v] = only(x);
  const set = () => { const rules = (v as Json).rules as Json[]; if (!rules?.length) throw new Error(`${key} without rules`); return rules; };
  switch (key) {
    case 'any': return v === true;
    case 'and_rules': return set().every((r) => permission(r, req, http));
    case 'or_rules': return set().some((r) => permission(r, req, http));
    case 'not_rule': return !permission(v as Json, req, http);
    case 'destination_port': return req.port === v;
    case 'header': {
      if (!http) throw new Error('a header permission in a network filter never sees headers');
      const h = v as Json;
      if (h.name !== ':method' || Object.keys(h).length !== 2) throw new Error(`header matcher ${JSON.stringify(h)}`);
      return stringMatches(h.string_match as Json, req.method!);
    }
    case 'url_path': {
      if (!http) throw new Error('a url_path permission in a network filter never sees a path');
      const [k, m] = only(v as Json);
      if (k !== 'path') throw new Error(`url_path.${k}`);
      return stringMatches(m as Json, req.path!.replace(/[?#].*$/, ''));
    }
    default: throw new Error(`permission ${key} is not modelled`);
  }
}

function principal(x: Json, req: Request): boolean {
  const [key, v] = only(x);
  const set = () => { const ids = (v as Json).ids as Json[]; if (!ids?.length) throw new Error(`${key} without ids`); return ids; };
  switch (key) {
    case 'any': return v === true;
    case 'and_ids': return set().every((r) => principal(r, req));
    case 'or_ids': return set().some((r) => principal(r, req));
    case 'not_id': return !principal(v as Json, req);
    case 'authenticated': {
      if (req.principal === null) return false;
      const name = (v as Json).principal_name as Json | undefined;
      return name === undefined || stringMatches(name, req.principal);
    }
    default: throw new Error(`principal ${key} is not modelled`);
  }
}

/** envoy.type.matcher.v3.StringMatcher; safe_regex is RE2 matched against the whole value. */
function stringMatches(m: Json, value: string): boolean {
  const ignoreCase = m.ignore_case === true;
  const { ignore_case: _, ...rest } = m;
  const [key, v] = only(rest);
  const [a, b] = ignoreCase ? [value.toLowerCase(), String(v).toLowerCase()] : [value, String(v)];
  switch (key) {
    case 'exact': return a === b;
    case 'prefix': if (!b) throw new Error('empty prefix (min_len: 1)'); return a.startsWith(b);
    case 'suffix': if (!b) throw new Error('empty suffix (min_len: 1)'); return a.endsWith(b);
    case 'contains': return a.includes(b);
    case 'safe_regex': {
      const { regex, ...other } = v as Json;
      if (typeof regex !== 'string' || Object.keys(other).length) throw new Error(`safe_regex ${JSON.stringify(v)}`);
      return new RegExp(`^(?:${regex})$`, 'u').test(value);
    }
    default: throw new Error(`string matcher ${key} is not modelled`);
  }
}

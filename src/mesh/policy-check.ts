import type { AuthorizationPolicySpec, PeerAuthenticationSpec, PolicyObject } from './view.js';

/**
 * The seam for branch `policy`: `validPolicy` becomes a call to validatePolicyObject(obj) there. Until then a
 * minimal check of exactly the fields the view passes on, so a hostile object cannot reach an agent.
 */

export type PolicyKind = 'PeerAuthentication' | 'AuthorizationPolicy';
export type CheckedPolicy =
  | { ok: true; kind: PolicyKind; object: PolicyObject<PeerAuthenticationSpec> | PolicyObject<AuthorizationPolicySpec> }
  | { ok: false; problem: string };

const MODES = ['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'];
/** Far above any real policy; a bound on what each agent is sent and evaluates. */
export const MAX_RULES = 256;
const MAX_LIST = 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validPolicy(obj: unknown): CheckedPolicy {
  const o = obj as Obj;
  const meta = isObj(o) && isObj(o.metadata) ? o.metadata : undefined;
  if (!meta || typeof meta.name !== 'string' || typeof meta.namespace !== 'string') return { ok: false, problem: 'metadata.name and metadata.namespace are required' };
  const kind = o.kind;
  if (kind !== 'PeerAuthentication' && kind !== 'AuthorizationPolicy') return { ok: false, problem: `kind ${String(kind).slice(0, 40)} is not PeerAuthentication or AuthorizationPolicy` };
  const spec = o.spec ?? {};
  if (!isObj(spec)) return { ok: false, problem: 'spec must be an object' };
  const problem = checkSelector(spec.selector) ?? (kind === 'PeerAuthentication' ? checkPeerAuthentication(spec) : checkAuthorizationPolicy(spec));
  if (problem) return { ok: false, problem };
  return { ok: true, kind, object: { namespace: meta.namespace, name: meta.name, spec: structuredClone(spec) as never } };
}

function checkSelector(sel: unknown): string | undefined {
  if (sel === undefined) return undefined;
  if (!isObj(sel)) return 'spec.selector must be an object';
  if (sel.matchLabels === undefined) return undefined;
  if (!isObj(sel.matchLabels) || !Object.values(sel.matchLabels).every((v) => typeof v === 'string')) return 'spec.selector.matchLabels must map label names to strings';
  return undefined;
}

function checkMode(mode: unknown, at: string): string | undefined {
  if (mode === undefined || (typeof mode === 'string' && MODES.includes(mode))) return undefined;
  return `${at} ${JSON.stringify(mode).slice(0, 40)} is not one of ${MODES.join(', ')}`;
}

function checkPeerAuthentication(spec: Obj): string | undefined {
  if (spec.mtls !== undefined) {
    if (!isObj(spec.mtls)) return 'spec.mtls must be an object';
    const bad = checkMode(spec.mtls.mode, 'spec.mtls.mode');
    if (bad) return bad;
  }
  if (spec.portLevelMtls === undefined) return undefined;
  if (!isObj(spec.portLevelMtls)) return 'spec.portLevelMtls must map ports to {mode}';
  for (const [port, v] of Object.entries(spec.portLevelMtls)) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `spec.portLevelMtls key "${port.slice(0, 20)}" is not a port number`;
    if (!isObj(v)) return `spec.portLevelMtls.${port} must be {mode}`;
    const bad = checkMode(v.mode, `spec.portLevelMtls.${port}.mode`);
    if (bad) return bad;
  }
  return undefined;
}

function checkAuthorizationPolicy(spec: Obj): string | undefined {
  if (spec.action !== undefined && spec.action !== 'ALLOW' && spec.action !== 'DENY') return `spec.action ${JSON.stringify(spec.action).slice(0, 40)} is not ALLOW or DENY`;
  if (spec.rules === undefined) return undefined;
  if (!Array.isArray(spec.rules)) return 'spec.rules must be a list';
  if (spec.rules.length > MAX_RULES) return `spec.rules has ${spec.rules.length} rules; at most ${MAX_RULES} are accepted`;
  for (const [i, rule] of spec.rules.entries()) {
    if (!isObj(rule)) return `spec.rules[${i}] must be an object`;
    const bad = checkClauses(rule.from, `spec.rules[${i}].from`, 'source') ?? checkClauses(rule.to, `spec.rules[${i}].to`, 'operation');
    if (bad) return bad;
  }
  return undefined;
}

function checkClauses(list: unknown, at: string, field: 'source' | 'operation'): string | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list) || list.length > MAX_LIST) return `${at} must be a list of at most ${MAX_LIST}`;
  for (const [i, clause] of list.entries()) {
    const inner = isObj(clause) ? clause[field] : undefined;
    if (!isObj(inner)) return `${at}[${i}].${field} must be an object`;
    for (const [name, values] of Object.entries(inner)) {
      if (!Array.isArray(values) || values.length > MAX_LIST || !values.every((v) => typeof v === 'string' && v.length <= 1024)) {
        return `${at}[${i}].${field}.${name.slice(0, 40)} must be a list of strings`;
      }
    }
  }
  return undefined;
}

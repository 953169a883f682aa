import type { AuthorizationPolicySpec, PeerAuthenticationSpec, PolicyObject } from '../mesh/view.js';
import { ISTIO_SECURITY_GROUP, isPolicyKind, POLICY_API_VERSION, POLICY_KINDS } from './api.js';
import { isRecord, Problems, quote, typeName } from './shape.js';
import { validateAuthorizationPolicySpec } from './validate-authz.js';
import { validatePeerAuthenticationSpec } from './validate-peer.js';
import { namespaceNameProblem, objectNameProblem } from './values.js';

/** A spec larger than this is refused before it is walked: what one hostile object may cost the control plane. */
export const MAX_SPEC_BYTES = 64 * 1024;

export type ValidatedPolicy =
  | { kind: 'PeerAuthentication'; object: PolicyObject<PeerAuthenticationSpec> }
  | { kind: 'AuthorizationPolicy'; object: PolicyObject<AuthorizationPolicySpec> };

export type PolicyValidation =
  | { ok: true; policy: ValidatedPolicy; where: string }
  /** `where` is `Kind ns/name` as far as the object says it; each error names its field path. */
  | { ok: false; where: string; errors: string[] };

export interface ValidateOptions {
  /** The namespace of an object that names none (kubectl's default), for files; watched objects always have one. */
  defaultNamespace?: string;
}

/**
 * From an untrusted parsed object (a watched custom resource, a YAML document) to a typed PolicyObject of its
 * kind, or every problem found (up to MAX_PROBLEMS), each naming its field. Never throws.
 */
export function validatePolicyObject(obj: unknown, options: ValidateOptions = {}): PolicyValidation {
  const p = new Problems();
  if (!isRecord(obj)) return { ok: false, where: 'object', errors: [`object: must be an object, not ${typeName(obj)}`] };
  const kind = isPolicyKind(obj.kind) ? obj.kind : undefined;
  const meta = isRecord(obj.metadata) ? obj.metadata : undefined;
  const name = typeof meta?.name === 'string' ? meta.name : undefined;
  const namespace = typeof meta?.namespace === 'string' ? meta.namespace : options.defaultNamespace;
  const where = `${typeof obj.kind === 'string' ? obj.kind.slice(0, 60) : 'object'}${name !== undefined ? ` ${namespace ?? '?'}/${name.slice(0, 253)}` : ''}`;

  if (!kind) p.add('kind', `${typeof obj.kind === 'string' ? quote(obj.kind) : typeName(obj.kind)} is not one of ${Object.keys(POLICY_KINDS).join(', ')}`);
  if (obj.apiVersion !== POLICY_API_VERSION) {
    const istio = typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith(`${ISTIO_SECURITY_GROUP}/`);
    p.add('apiVersion', istio
      ? `${quote(obj.apiVersion as string)} is Istio's; meshid reads ${POLICY_API_VERSION} (change only the apiVersion)`
      : `${typeof obj.apiVersion === 'string' ? quote(obj.apiVersion) : typeName(obj.apiVersion)} is not ${POLICY_API_VERSION}`);
  }
  if (!meta) p.add('metadata', `must be an object, not ${typeName(obj.metadata)}`);
  else {
    if (name === undefined) p.add('metadata.name', meta.name === undefined ? 'is required' : `must be a string, not ${typeName(meta.name)}`);
    else if (objectNameProblem(name)) p.add('metadata.name', `${quote(name)} ${objectNameProblem(name)}`);
    if (namespace === undefined) p.add('metadata.namespace', meta.namespace === undefined ? 'is required' : `must be a string, not ${typeName(meta.namespace)}`);
    else if (namespaceNameProblem(namespace)) p.add('metadata.namespace', `${quote(namespace)} ${namespaceNameProblem(namespace)}`);
  }
  const spec = checkSpec(obj.spec, p);
  if (!kind || !spec) return { ok: false, where, errors: p.summary() };
  // The spec is checked even when the envelope is wrong, so one pass shows every problem.
  const ref = { namespace: namespace ?? '', name: name ?? '' };
  const policy: ValidatedPolicy = kind === 'PeerAuthentication'
    ? { kind, object: { ...ref, spec: validatePeerAuthenticationSpec(spec, p) } }
    : { kind, object: { ...ref, spec: validateAuthorizationPolicySpec(spec, p) } };
  if (p.any) return { ok: false, where, errors: p.summary() };
  return { ok: true, policy, where };
}

/** The spec, if it is an object small enough to walk; a missing spec is an empty one (Istio's allow-nothing). */
function checkSpec(spec: unknown, p: Problems): Record<string, unknown> | undefined {
  if (spec === undefined) return {};
  if (!isRecord(spec)) {
    p.add('spec', `must be an object, not ${typeName(spec)}`);
    return undefined;
  }
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(spec));
  } catch {
    // Cycles or nesting too deep for the stack: no schema-valid object is either.
    p.add('spec', 'is not a JSON object (cyclic or nested too deeply)');
    return undefined;
  }
  if (size > MAX_SPEC_BYTES) {
    p.add('spec', `is ${size} bytes of JSON; at most ${MAX_SPEC_BYTES} are allowed`);
    return undefined;
  }
  return spec;
}

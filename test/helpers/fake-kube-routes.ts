/** Routing and naming for FakeKube: which object a path names, and the RBAC verb of a request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { POLICY_API_VERSION, POLICY_KINDS } from '../../src/policy/api.js';

export type KubeObject = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown }; [k: string]: unknown };
export interface Target { group: string; resource: string; namespace?: string; name?: string; version?: string; subresource?: string }

export const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1' },
  secrets: { kind: 'Secret', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  leases: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  mutatingwebhookconfigurations: { kind: 'MutatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1' },
  [POLICY_KINDS.PeerAuthentication.plural]: { kind: 'PeerAuthentication', apiVersion: POLICY_API_VERSION },
  [POLICY_KINDS.AuthorizationPolicy.plural]: { kind: 'AuthorizationPolicy', apiVersion: POLICY_API_VERSION },
  podcertificaterequests: { kind: 'PodCertificateRequest', apiVersion: 'certificates.k8s.io/v1beta1' },
  clustertrustbundles: { kind: 'ClusterTrustBundle', apiVersion: 'certificates.k8s.io/v1beta1' },
};
/** Resources whose status is written only through /status. */
export const STATUS_SUBRESOURCE = new Set(['podcertificaterequests']);
/** The label the API server puts on every Namespace. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const CLUSTER_SCOPED = new Set(['namespaces', 'mutatingwebhookconfigurations', 'clustertrustbundles']);

export function groupOf(resource: string): string {
  const api = KINDS[resource]?.apiVersion ?? '';
  return api.includes('/') ? api.split('/')[0]! : '';
}

export function keyOf(t: Target): string {
  return `${t.group}/${t.resource}/${t.namespace ?? ''}/${t.name ?? ''}`;
}

/** The field selectors the API server supports that meshid uses: metadata.name on anything, and per resource SELECTABLE. */
export interface FieldFilter { name?: string; fields: Array<[string, string]> }

const SELECTABLE: Record<string, readonly string[]> = { pods: ['spec.nodeName'], podcertificaterequests: ['spec.signerName'] };

/** `a=b,c=d` into a FieldFilter; a string naming what the real API server would refuse for anything else. */
export function parseFieldSelector(selector: string | null, resource: string): FieldFilter | string {
  const filter: FieldFilter = { fields: [] };
  for (const term of (selector ?? '').split(',').filter(Boolean)) {
    const m = /^([\w.]+)==?(.*)$/.exec(term);
    if (m?.[1] === 'metadata.name') filter.name = m[2];
    else if (m && SELECTABLE[resource]?.includes(m[1]!)) filter.fields.push([m[1]!, m[2]!]);
    else return `"${term}" is not a known field selector: only ${['metadata.name', ...(SELECTABLE[resource] ?? [])].map((f) => `"${f}"`).join(', ')}`;
  }
  return filter;
}

export function belongs(obj: KubeObject, target: Target, filter: FieldFilter, kind: string): boolean {
  if (obj.kind !== kind) return false;
  if (target.namespace && obj.metadata.namespace !== target.namespace) return false;
  if (filter.fields.some(([path, value]) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj) !== value)) return false;
  return !filter.name || obj.metadata.name === filter.name;
}

/** The API discovery documents (/apis, /apis/<group>, /apis/<group>/<version>); undefined for any other path. */
export function apiDiscovery(path: string, served: (resource: string) => readonly string[]): unknown {
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'apis' || parts.length > 3) return undefined;
  const byGroup = new Map<string, Map<string, string[]>>();
  for (const resource of Object.keys(KINDS)) {
    const group = groupOf(resource);
    if (!group) continue;
    for (const version of served(resource)) {
      const versions = byGroup.get(group) ?? new Map<string, string[]>();
      versions.set(version, [...(versions.get(version) ?? []), resource]);
      byGroup.set(group, versions);
    }
  }
  const groupDoc = (name: string, versions: Map<string, string[]>) => {
    const list = [...versions.keys()].sort().reverse().map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions: list, preferredVersion: list[0] };
  };
  if (parts.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...byGroup].map(([name, v]) => groupDoc(name, v)) };
  const versions = byGroup.get(parts[1]!);
  if (!versions) return undefined;
  if (parts.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(parts[1]!, versions) };
  const resources = versions.get(parts[2]!);
  if (!resources) return undefined;
  return {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${parts[1]}/${parts[2]}`,
    resources: resources.flatMap((name) => [
      { name, singularName: KINDS[name]!.kind.toLowerCase(), namespaced: !CLUSTER_SCOPED.has(name), kind: KINDS[name]!.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
      ...(STATUS_SUBRESOURCE.has(name) ? [{ name: `${name}/status`, singularName: '', namespaced: true, kind: KINDS[name]!.kind, verbs: ['get', 'patch', 'update'] }] : []),
    ]),
  };
}

/** /api/v1/... or /apis/<group>/<version>/...; then [namespaces/<ns>/]<resource>[/<name>]. */
export function parsePath(pathname: string): Target | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') [group, version, rest] = ['', 'v1', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    if (rest.length > 5 || (rest[4] !== undefined && !STATUS_SUBRESOURCE.has(rest[2]!))) return undefined;
    return { group, version, namespace: rest[1], resource: rest[2]!, name: rest[3], subresource: rest[4] };
  }
  if (rest.length === 0 || rest.length > 2) return undefined;
  const target = { group, version, resource: rest[0]!, name: rest[1] };
  if (target.resource !== 'tokenreviews' && !KINDS[target.resource]) return undefined;
  if (target.resource !== 'tokenreviews' && !CLUSTER_SCOPED.has(target.resource) && target.name) return undefined;
  return target;
}

export function verbOf(method: string, target: Target, isWatch: boolean): string {
  switch (method) {
    case 'GET': return target.name ? 'get' : isWatch ? 'watch' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return 'delete';
    default: return method.toLowerCase();
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** What the real API server refuses to decode; only what the code under test could get wrong. */
export function undecodable(target: Target, obj: KubeObject): string | undefined {
  if (target.resource !== 'leases') return undefined;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  for (const field of ['renewTime', 'acquireTime']) {
    const v = spec[field];
    if (v !== undefined && !(typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v))) return `spec.${field}: MicroTime must be RFC 3339 with microseconds`;
  }
  return undefined;
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code });
}

export function sendJson(res: ServerResponse, code: number, obj: unknown): void {
  if (res.headersSent) return;
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

/** The service account issuer's OIDC discovery documents; undefined for any other path. */
export function discoveryDocument(path: string, oidc: { issuer: string; jwks: unknown }): unknown {
  if (path === '/.well-known/openid-configuration') {
    return { issuer: oidc.issuer, jwks_uri: `${oidc.issuer}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['RS256'] };
  }
  return path === '/openid/v1/jwks' ? oidc.jwks : undefined;
}

/** Routing and naming for FakeKube: which object a path names, and the RBAC verb of a request. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type KubeObject = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown }; [k: string]: unknown };
export interface Target { group: string; resource: string; namespace?: string; name?: string }

export const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1' },
  secrets: { kind: 'Secret', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  leases: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
  mutatingwebhookconfigurations: { kind: 'MutatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1' },
};
/** The label the API server puts on every Namespace. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const CLUSTER_SCOPED = new Set(['namespaces', 'mutatingwebhookconfigurations']);

export function groupOf(resource: string): string {
  const api = KINDS[resource]?.apiVersion ?? '';
  return api.includes('/') ? api.split('/')[0]! : '';
}

export function keyOf(t: Target): string {
  return `${t.group}/${t.resource}/${t.namespace ?? ''}/${t.name ?? ''}`;
}

export function belongs(obj: KubeObject, target: Target, nameFilter: string | undefined, kind: string): boolean {
  if (obj.kind !== kind) return false;
  if (target.namespace && obj.metadata.namespace !== target.namespace) return false;
  return !nameFilter || obj.metadata.name === nameFilter;
}

/** /api/v1/... or /apis/<group>/<version>/...; then [namespaces/<ns>/]<resource>[/<name>]. */
export function parsePath(pathname: string): Target | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [group, rest] = [parts[1]!, parts.slice(3)];
  else return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) return { group, namespace: rest[1], resource: rest[2]!, name: rest[3] };
  if (rest.length === 0 || rest.length > 2) return undefined;
  const target = { group, resource: rest[0]!, name: rest[1] };
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

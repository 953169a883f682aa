import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { policiesFor } from '../../src/mesh/select.js';
import type { AuthorizationPolicySpec, InboundPort, PeerAuthenticationSpec, PodInfo, PolicyObject, WorkloadView } from '../../src/mesh/view.js';
import { validatePolicyObject } from '../../src/policy/validate.js';

export const ROOT_NS = 'meshid-system';
export const EXAMPLE = join(process.cwd(), 'examples', 'bookinfo-policy.yaml');

export const spiffe = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

export interface Policies {
  peer: PolicyObject<PeerAuthenticationSpec>[];
  authz: PolicyObject<AuthorizationPolicySpec>[];
}

/** Objects as the control plane gets them: through the validator, which must accept every one. */
export function validated(objects: unknown[]): Policies {
  const out: Policies = { peer: [], authz: [] };
  for (const obj of objects) {
    const r = validatePolicyObject(obj);
    assert.ok(r.ok, `valid: ${JSON.stringify(obj)}: ${r.ok ? '' : r.errors.join('; ')}`);
    if (r.policy.kind === 'PeerAuthentication') out.peer.push(r.policy.object);
    else out.authz.push(r.policy.object);
  }
  return out;
}

export function exampleObjects(): unknown[] {
  return parseAllDocuments(readFileSync(EXAMPLE, 'utf8')).map((d) => d.toJS());
}

/** A pod's view with only the policies that apply to it, chosen as the control plane chooses (src/mesh/select). */
export function viewFor(pod: Partial<PodInfo> & { labels: Record<string, string> }, policies: Partial<Policies>, inboundPorts: InboundPort[] = []): WorkloadView {
  const p: PodInfo = { namespace: 'default', name: 'pod-0', serviceAccount: 'default', ips: ['10.0.0.7'], ...pod };
  return {
    version: 'e1:1', trustDomain: 'cluster.local', rootNamespace: ROOT_NS, pod: p, inboundPorts,
    peerAuthentications: policiesFor(p, policies.peer ?? [], ROOT_NS),
    authorizationPolicies: policiesFor(p, policies.authz ?? [], ROOT_NS),
    destinations: [],
  };
}

export const peer = (namespace: string, name: string, spec: unknown) => ({ apiVersion: 'security.meshid.io/v1', kind: 'PeerAuthentication', metadata: { namespace, name }, spec });
export const authz = (namespace: string, name: string, spec: unknown) => ({ apiVersion: 'security.meshid.io/v1', kind: 'AuthorizationPolicy', metadata: { namespace, name }, spec });

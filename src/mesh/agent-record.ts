import { inboundPorts } from './inbound.js';
import type { MeshPod, MeshService } from './model.js';
import { policiesFor } from './select.js';
import type { AuthorizationPolicySpec, InboundPort, PeerAuthenticationSpec, PodInfo, PolicyObject, ViewUpdate } from './view.js';

/** What one agent's view holds besides the destinations, each field with the revision it last changed at. */
export interface AgentFields {
  pod: PodInfo;
  inboundPorts: InboundPort[];
  peerAuthentications: PolicyObject<PeerAuthenticationSpec>[];
  authorizationPolicies: PolicyObject<AuthorizationPolicySpec>[];
}
export type AgentField = keyof AgentFields;
export const AGENT_FIELDS: AgentField[] = ['pod', 'inboundPorts', 'peerAuthentications', 'authorizationPolicies'];
const POLICY_FIELDS = new Set<AgentField>(['peerAuthentications', 'authorizationPolicies']);

export interface PolicySets {
  peerAuthentications: Iterable<PolicyObject<PeerAuthenticationSpec>>;
  authorizationPolicies: Iterable<PolicyObject<AuthorizationPolicySpec>>;
}

export function computeField(field: AgentField, pod: MeshPod, services: Iterable<MeshService>, policies: PolicySets, rootNamespace: string): AgentFields[AgentField] {
  switch (field) {
    case 'pod':
      return { namespace: pod.namespace, name: pod.name, serviceAccount: pod.serviceAccount, labels: pod.labels, ips: pod.ips };
    case 'inboundPorts':
      return inboundPorts(pod, services);
    case 'peerAuthentications':
      return sortByName(policiesFor(pod, [...policies.peerAuthentications], rootNamespace));
    case 'authorizationPolicies':
      return sortByName(policiesFor(pod, [...policies.authorizationPolicies], rootNamespace));
  }
}

function sortByName<T extends PolicyObject<unknown>>(list: T[]): T[] {
  return list.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}

export class AgentRecord {
  readonly fields: Partial<AgentFields> = {};
  private readonly json = new Map<AgentField, string>();
  private readonly revs = new Map<AgentField, number>();
  /** The pod's uid: a pod recreated under the same name is a new agent, whose view starts afresh. */
  constructor(readonly uid: string) {}

  /** Stores the field's value; true if it differs from what was held. */
  set<F extends AgentField>(field: F, value: AgentFields[F], revision: number): boolean {
    if (POLICY_FIELDS.has(field)) {
      // A policy object is replaced, never changed in place, when its API object changes: the same objects are the same list.
      const held = this.fields[field] as unknown[] | undefined;
      const list = value as unknown[];
      if (held && held.length === list.length && held.every((p, i) => p === list[i])) return false;
    } else {
      const json = JSON.stringify(value);
      if (this.json.get(field) === json) return false;
      this.json.set(field, json);
    }
    this.fields[field] = value;
    this.revs.set(field, revision);
    return true;
  }

  /** The fields changed after `revision`, as a ViewUpdate carries them. */
  changedSince(revision: number): Partial<ViewUpdate> {
    const out: Partial<ViewUpdate> = {};
    for (const f of AGENT_FIELDS) if ((this.revs.get(f) ?? 0) > revision) (out as Record<string, unknown>)[f] = this.fields[f];
    return out;
  }
}

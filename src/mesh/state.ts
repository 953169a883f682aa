import { AGENT_FIELDS, AgentRecord, computeField, type AgentField } from './agent-record.js';
import { ChangeLog } from './change-log.js';
import { isTerminal, podIpDestination, serviceDestinations } from './destinations.js';
import { objectKey, selects, type MeshEndpointSlice, type MeshPod, type MeshService } from './model.js';
import type { PolicyKind } from '../policy/api.js';
import { formatVersion, revisionOf } from './version.js';
import { destinationKey, type AuthorizationPolicySpec, type MeshDestination, type PeerAuthenticationSpec, type PolicyObject, type ViewUpdate } from './view.js';

export interface MeshStateOptions {
  trustDomain: string;
  rootNamespace: string;
  /** Changes on every control plane start; no ':' in it. */
  epoch: string;
  logLimit?: number;
}

type AnyPolicy = PolicyObject<PeerAuthenticationSpec> | PolicyObject<AuthorizationPolicySpec>;
type PolicyOf<K extends PolicyKind> = K extends 'PeerAuthentication' ? PolicyObject<PeerAuthenticationSpec> : PolicyObject<AuthorizationPolicySpec>;

/**
 * The mesh as the control plane sees it, kept incrementally: each object change recomputes only the
 * destinations and agent fields it can affect, and records what changed at which revision, so any agent's
 * delta since its last version is a lookup, not a rebuild of every view.
 */
export class MeshState {
  revision = 0;
  private pending = 0;
  private dirty = false;
  private readonly pods = new Map<string, MeshPod>();
  private readonly podsByNs = new Map<string, Set<string>>();
  private readonly holders = new Map<string, Set<string>>();
  private readonly services = new Map<string, MeshService>();
  private readonly servicesByNs = new Map<string, Set<string>>();
  private readonly slices = new Map<string, Map<string, MeshEndpointSlice>>();
  private readonly sliceOwner = new Map<string, string>();
  private readonly podsOfService = new Map<string, Set<string>>();
  private readonly servicesOfPod = new Map<string, Set<string>>();
  private readonly serviceDestKeys = new Map<string, string[]>();
  private readonly policies: Record<PolicyKind, Map<string, AnyPolicy>> = { PeerAuthentication: new Map(), AuthorizationPolicy: new Map() };
  private readonly dests = new Map<string, MeshDestination>();
  private readonly destJson = new Map<string, string>();
  private readonly log: ChangeLog;
  private readonly agents = new Map<string, AgentRecord>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly o: MeshStateOptions) {
    this.log = new ChangeLog(o.logLimit);
  }

  get version(): string {
    return formatVersion(this.o.epoch, this.revision);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  upsertPod(pod: MeshPod): void {
    this.change(() => this.setPod(objectKey(pod), pod));
  }

  deletePod(namespace: string, name: string): void {
    this.change(() => this.setPod(objectKey({ namespace, name }), undefined));
  }

  upsertService(svc: MeshService): void {
    this.change(() => this.setService(objectKey(svc), svc));
  }

  deleteService(namespace: string, name: string): void {
    this.change(() => this.setService(objectKey({ namespace, name }), undefined));
  }

  upsertSlice(slice: MeshEndpointSlice): void {
    this.change(() => this.setSlice(objectKey(slice), slice));
  }

  deleteSlice(namespace: string, name: string): void {
    this.change(() => this.setSlice(objectKey({ namespace, name }), undefined));
  }

  upsertPolicy(kind: PolicyKind, obj: AnyPolicy): void {
    this.change(() => this.setPolicy(kind, obj.namespace, obj.name, obj));
  }

  deletePolicy(kind: PolicyKind, namespace: string, name: string): void {
    this.change(() => this.setPolicy(kind, namespace, name, undefined));
  }

  policy<K extends PolicyKind>(kind: K, namespace: string, name: string): PolicyOf<K> | undefined {
    return this.policies[kind].get(objectKey({ namespace, name })) as PolicyOf<K> | undefined;
  }

  pod(namespace: string, name: string): MeshPod | undefined {
    return this.pods.get(objectKey({ namespace, name }));
  }

  destinations(): MeshDestination[] {
    return [...this.dests.values()];
  }

  /** The whole view of a pod's agent; undefined for a pod not known (or finished). */
  fullView(namespace: string, name: string): ViewUpdate | undefined {
    const rec = this.agents.get(objectKey({ namespace, name }));
    if (!rec) return undefined;
    return { version: this.version, full: true, trustDomain: this.o.trustDomain, rootNamespace: this.o.rootNamespace, ...rec.fields, upserts: this.destinations(), removes: [] };
  }

  /**
   * What changed for this pod's agent since `version`: a delta (null when nothing did), or the full view when
   * the version is from another epoch, from the future, or older than the change log reaches.
   */
  update(namespace: string, name: string, since: string | undefined): ViewUpdate | null | undefined {
    const rec = this.agents.get(objectKey({ namespace, name }));
    if (!rec) return undefined;
    const rev = revisionOf(since, this.o.epoch);
    const keys = rev === undefined || rev > this.revision ? undefined : this.log.since(rev);
    if (rev === undefined || !keys) return this.fullView(namespace, name);
    const fields = rec.changedSince(rev);
    if (keys.size === 0 && Object.keys(fields).length === 0) return null;
    const upserts: MeshDestination[] = [];
    const removes: string[] = [];
    for (const key of keys) {
      const d = this.dests.get(key);
      if (d) upserts.push(d);
      else removes.push(key);
    }
    return { version: this.version, full: false, ...fields, upserts, removes };
  }

  private change(fn: () => void): void {
    this.pending = this.revision + 1;
    fn();
    if (!this.dirty) return;
    this.dirty = false;
    this.revision = this.pending;
    for (const l of [...this.listeners]) l();
  }

  private setPod(key: string, pod: MeshPod | undefined): void {
    const old = this.pods.get(key);
    const ns = key.slice(0, key.indexOf('/'));
    if (pod) this.pods.set(key, pod);
    else this.pods.delete(key);
    indexSet(this.podsByNs, ns, key, pod !== undefined);
    for (const ip of old?.ips ?? []) indexSet(this.holders, ip, key, false);
    for (const ip of pod?.ips ?? []) indexSet(this.holders, ip, key, true);
    for (const ip of new Set([...(old?.ips ?? []), ...(pod?.ips ?? [])])) this.refreshIp(ip);
    for (const svc of this.servicesOfPod.get(key) ?? []) this.refreshServiceDests(svc);
    if (!pod || isTerminal(pod)) {
      if (this.agents.delete(key)) this.dirty = true;
      return;
    }
    if (this.agents.get(key)?.uid !== pod.uid) {
      this.agents.set(key, new AgentRecord(pod.uid));
      this.dirty = true;
    }
    this.refreshAgent(key, AGENT_FIELDS);
  }

  private setService(key: string, svc: MeshService | undefined): void {
    const old = this.services.get(key);
    if (svc) this.services.set(key, svc);
    else this.services.delete(key);
    const ns = key.slice(0, key.indexOf('/'));
    indexSet(this.servicesByNs, ns, key, svc !== undefined);
    this.refreshServiceDests(key);
    for (const podKey of this.podsByNs.get(ns) ?? []) {
      const labels = this.pods.get(podKey)!.labels;
      if (selects(old?.selector, labels) || selects(svc?.selector, labels)) this.refreshAgent(podKey, ['inboundPorts']);
    }
  }

  private setSlice(key: string, slice: MeshEndpointSlice | undefined): void {
    const ns = key.slice(0, key.indexOf('/'));
    const name = key.slice(ns.length + 1);
    const oldOwner = this.sliceOwner.get(key);
    const owner = slice ? objectKey({ namespace: ns, name: slice.service }) : undefined;
    if (oldOwner) this.slices.get(oldOwner)?.delete(name);
    if (owner && slice) {
      this.sliceOwner.set(key, owner);
      if (!this.slices.has(owner)) this.slices.set(owner, new Map());
      this.slices.get(owner)!.set(name, slice);
    } else this.sliceOwner.delete(key);
    for (const svc of new Set([oldOwner, owner])) {
      if (!svc) continue;
      this.reindexServicePods(svc, ns);
      this.refreshServiceDests(svc);
    }
  }

  private reindexServicePods(svc: string, ns: string): void {
    const now = new Set<string>();
    for (const s of this.slices.get(svc)?.values() ?? []) for (const e of s.endpoints) if (e.pod) now.add(objectKey({ namespace: ns, name: e.pod }));
    for (const p of this.podsOfService.get(svc) ?? []) if (!now.has(p)) indexSet(this.servicesOfPod, p, svc, false);
    for (const p of now) indexSet(this.servicesOfPod, p, svc, true);
    this.podsOfService.set(svc, now);
  }

  private setPolicy(kind: PolicyKind, namespace: string, name: string, obj: AnyPolicy | undefined): void {
    const key = objectKey({ namespace, name });
    if (obj) this.policies[kind].set(key, obj);
    else this.policies[kind].delete(key);
    const field: AgentField = kind === 'PeerAuthentication' ? 'peerAuthentications' : 'authorizationPolicies';
    const affected = namespace === this.o.rootNamespace ? this.agents.keys() : this.podsByNs.get(namespace) ?? [];
    for (const podKey of [...affected]) this.refreshAgent(podKey, [field]);
  }

  private refreshAgent(podKey: string, fields: AgentField[]): void {
    const rec = this.agents.get(podKey);
    const pod = this.pods.get(podKey);
    if (!rec || !pod) return;
    const services = fields.includes('inboundPorts') ? [...(this.servicesByNs.get(pod.namespace) ?? [])].map((k) => this.services.get(k)!) : [];
    const policies = {
      peerAuthentications: this.policies.PeerAuthentication.values() as Iterable<PolicyObject<PeerAuthenticationSpec>>,
      authorizationPolicies: this.policies.AuthorizationPolicy.values() as Iterable<PolicyObject<AuthorizationPolicySpec>>,
    };
    for (const f of fields) if (rec.set(f, computeField(f, pod, services, policies, this.o.rootNamespace) as never, this.pending)) this.dirty = true;
  }

  private refreshIp(ip: string): void {
    const holders = [...(this.holders.get(ip) ?? [])].map((k) => this.pods.get(k)!);
    this.setDest(ip, podIpDestination(ip, holders, this.o.trustDomain));
  }

  private refreshServiceDests(svcKey: string): void {
    const svc = this.services.get(svcKey);
    const ns = svcKey.slice(0, svcKey.indexOf('/'));
    const now = svc ? serviceDestinations(svc, this.slices.get(svcKey)?.values() ?? [], (name) => this.pods.get(objectKey({ namespace: ns, name })), this.o.trustDomain) : [];
    const keys = now.map(destinationKey);
    for (const old of this.serviceDestKeys.get(svcKey) ?? []) if (!keys.includes(old)) this.setDest(old, null);
    now.forEach((d, i) => this.setDest(keys[i]!, d));
    if (keys.length) this.serviceDestKeys.set(svcKey, keys);
    else this.serviceDestKeys.delete(svcKey);
  }

  private setDest(key: string, d: MeshDestination | null): void {
    const json = d ? JSON.stringify(d) : undefined;
    if (this.destJson.get(key) === json) return;
    if (d) {
      this.dests.set(key, d);
      this.destJson.set(key, json!);
    } else {
      this.dests.delete(key);
      this.destJson.delete(key);
    }
    this.log.record(this.pending, key);
    this.dirty = true;
  }
}

function indexSet(index: Map<string, Set<string>>, key: string, member: string, present: boolean): void {
  let set = index.get(key);
  if (present) {
    if (!set) index.set(key, (set = new Set()));
    set.add(member);
  } else if (set) {
    set.delete(member);
    if (set.size === 0) index.delete(key);
  }
}

import type { Logger } from '../common/log.js';
import { podFromObject, serviceFromObject, sliceFromObject } from '../mesh/convert.js';
import { validPolicy, type PolicyKind } from '../mesh/policy-check.js';
import type { MeshState } from '../mesh/state.js';
import type { KubeClients } from './client.js';
import { startReflector } from './reflector.js';

export const POLICY_GROUP = 'security.meshid.io';
export const POLICY_VERSION = 'v1';
export const POLICY_PLURALS: Record<PolicyKind, string> = { PeerAuthentication: 'peerauthentications', AuthorizationPolicy: 'authorizationpolicies' };

export interface MeshWatchOptions {
  clients: KubeClients;
  state: MeshState;
  log: Logger;
  retryMs: number;
  resyncMs: number;
}

export interface MeshWatch {
  /** Every resource has been listed once: the state is whole and views may be served. */
  synced(): boolean;
  stop(): void;
}

type Obj = Record<string, any>;
type Lister = () => Promise<{ items: Obj[]; resourceVersion: string }>;

const listed = (p: Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>) =>
  p.then((l) => ({ items: l.items as Obj[], resourceVersion: l.metadata?.resourceVersion ?? '' }));

/**
 * Pods, Services, EndpointSlices and the two policy CRDs, each through a reflector into the MeshState. A policy
 * object that fails validation is logged once (per object and problem) and ignored: its last good version stays.
 */
export function startMeshWatch(o: MeshWatchOptions): MeshWatch {
  const { clients: k, state } = o;
  const pending = new Set<string>();
  const refused = new Map<string, string>();
  const name = (obj: Obj) => ({ namespace: String(obj?.metadata?.namespace ?? ''), name: String(obj?.metadata?.name ?? '') });

  const policyHandlers = (kind: PolicyKind) => ({
    onUpsert(obj: Obj) {
      const id = `${kind}/${name(obj).namespace}/${name(obj).name}`;
      const checked = validPolicy({ ...obj, kind });
      if (!checked.ok) {
        if (refused.get(id) !== checked.problem) {
          refused.set(id, checked.problem);
          o.log.warn({ kind, namespace: name(obj).namespace, name: name(obj).name, problem: checked.problem }, `${kind} ${name(obj).namespace}/${name(obj).name} ignored: ${checked.problem}; its last valid version stays in force`);
        }
        return;
      }
      refused.delete(id);
      state.upsertPolicy(kind, checked.object);
    },
    onDelete(obj: Obj) {
      refused.delete(`${kind}/${name(obj).namespace}/${name(obj).name}`);
      state.deletePolicy(kind, name(obj).namespace, name(obj).name);
    },
  });

  const resources: Array<{ what: string; path: string; list: Lister; onUpsert(obj: Obj): void; onDelete(obj: Obj): void }> = [
    {
      what: 'pods', path: '/api/v1/pods', list: () => listed(k.core.listPodForAllNamespaces()),
      onUpsert: (obj) => { const p = podFromObject(obj); if (p) state.upsertPod(p); },
      onDelete: (obj) => state.deletePod(name(obj).namespace, name(obj).name),
    },
    {
      what: 'services', path: '/api/v1/services', list: () => listed(k.core.listServiceForAllNamespaces()),
      onUpsert: (obj) => { const s = serviceFromObject(obj); if (s) state.upsertService(s); },
      onDelete: (obj) => state.deleteService(name(obj).namespace, name(obj).name),
    },
    {
      what: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices', list: () => listed(k.discovery.listEndpointSliceForAllNamespaces()),
      onUpsert: (obj) => { const s = sliceFromObject(obj); if (s) state.upsertSlice(s); else state.deleteSlice(name(obj).namespace, name(obj).name); },
      onDelete: (obj) => state.deleteSlice(name(obj).namespace, name(obj).name),
    },
    ...(Object.keys(POLICY_PLURALS) as PolicyKind[]).map((kind) => ({
      what: POLICY_PLURALS[kind], path: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${POLICY_PLURALS[kind]}`,
      list: () => listed(k.custom.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURALS[kind] })),
      ...policyHandlers(kind),
    })),
  ];
  for (const r of resources) pending.add(r.what);
  const stops = resources.map((r) => startReflector({
    ...r, watch: k.watch, retryMs: o.retryMs, resyncMs: o.resyncMs, log: o.log,
    onSynced: () => pending.delete(r.what),
  }));
  return {
    synced: () => pending.size === 0,
    stop: () => stops.forEach((s) => s()),
  };
}

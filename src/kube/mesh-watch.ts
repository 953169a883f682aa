import type { Logger } from '../common/log.js';
import { podFromObject, serviceFromObject, sliceFromObject } from '../mesh/convert.js';
import { POLICY_API_VERSION, type PolicyKind } from '../policy/api.js';
import { validatePolicyObject } from '../policy/validate.js';
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

/** A resource the mesh view is computed from: how to list it, where to watch it, how its objects enter the state. */
export interface MeshResource {
  what: string;
  path: string;
  list: Lister;
  onUpsert(obj: Obj): void;
  onDelete(obj: Obj): void;
  /** A CRD: the API may not have it yet. */
  optional?: boolean;
}

/**
 * Pods, Services, EndpointSlices and the two policy CRDs, and how each object enters the MeshState. A policy
 * object that fails validation is logged once (per object and problem) and ignored: its last good version stays.
 * The one definition for the control plane's watches and `meshid describe`'s one-off lists.
 */
export function meshResources(k: KubeClients, state: MeshState, log: Logger): MeshResource[] {
  const refused = new Map<string, string>();
  const name = (obj: Obj) => ({ namespace: String(obj?.metadata?.namespace ?? ''), name: String(obj?.metadata?.name ?? '') });

  const policyHandlers = (kind: PolicyKind) => ({
    onUpsert(obj: Obj) {
      const { namespace, name: n } = name(obj);
      const id = `${kind}/${namespace}/${n}`;
      // List items may leave out kind and apiVersion; the resource watched says what they are.
      const checked = validatePolicyObject({ apiVersion: POLICY_API_VERSION, ...obj, kind });
      if (!checked.ok) {
        const problem = checked.errors.join('; ');
        if (refused.get(id) !== problem) {
          refused.set(id, problem);
          log.warn({ kind, namespace, name: n, problem }, `${kind} ${namespace}/${n} ignored: ${problem}; its last valid version stays in force`);
        }
        return;
      }
      refused.delete(id);
      state.upsertPolicy(kind, checked.policy.object);
    },
    onDelete(obj: Obj) {
      refused.delete(`${kind}/${name(obj).namespace}/${name(obj).name}`);
      state.deletePolicy(kind, name(obj).namespace, name(obj).name);
    },
  });

  return [
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
      optional: true,
      ...policyHandlers(kind),
    })),
  ];
}

/** Each mesh resource through a reflector into the MeshState. */
export function startMeshWatch(o: MeshWatchOptions): MeshWatch {
  const resources = meshResources(o.clients, o.state, o.log);
  const pending = new Set(resources.map((r) => r.what));
  const stops = resources.map((r) => startReflector({
    ...r, watch: o.clients.watch, retryMs: o.retryMs, resyncMs: o.resyncMs, log: o.log,
    onSynced: () => pending.delete(r.what),
  }));
  return {
    synced: () => pending.size === 0,
    stop: () => stops.forEach((s) => s()),
  };
}

import type { CoreV1Api } from '@kubernetes/client-node';
import { countPublished, type NamespaceState, type PublishedConfigMap } from './bundle-plan.js';
import { MANAGED_BY_LABELS } from './labels.js';
import { CA_ROOT_FILE, TRUST_BUNDLE_CONFIGMAP } from '../common/pod-contract.js';

export const BUNDLE_CONFIGMAP = TRUST_BUNDLE_CONFIGMAP;
export const BUNDLE_KEY = CA_ROOT_FILE;
/** Where an Istio sidecar looks for the mesh's roots (`serve --istio-compat`); same key. */
export const ISTIO_BUNDLE_CONFIGMAP = 'istio-ca-root-cert';

/** The names the trust bundle is published under in every namespace. */
export function bundleConfigMapNames(istioCompat: boolean): string[] {
  return istioCompat ? [BUNDLE_CONFIGMAP, ISTIO_BUNDLE_CONFIGMAP] : [BUNDLE_CONFIGMAP];
}

/** Every namespace, and whether it is being deleted (the API refuses new objects there). */
export async function listNamespaceStates(core: CoreV1Api): Promise<NamespaceState[]> {
  const list = await core.listNamespace();
  return list.items.map((ns) => ({ name: ns.metadata?.name ?? '', terminating: ns.status?.phase === 'Terminating' || !!ns.metadata?.deletionTimestamp }));
}

/** The bundle ConfigMaps of all namespaces; one list call, restricted by name. */
export async function listPublishedBundles(core: CoreV1Api, configMapName = BUNDLE_CONFIGMAP): Promise<PublishedConfigMap[]> {
  const list = await core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.name=${configMapName}` });
  return list.items.map((cm) => ({
    namespace: cm.metadata?.namespace ?? '',
    resourceVersion: cm.metadata?.resourceVersion ?? '',
    data: cm.data ?? {},
    binaryData: cm.binaryData ?? {},
    labels: cm.metadata?.labels ?? {},
  }));
}

export interface BundleCoverage {
  /** Namespaces that should hold the bundle (not terminating). */
  namespaces: number;
  /** Of those, how many hold exactly `bundle` now. */
  published: number;
}

/** How far `bundle` has reached, as anyone allowed to list namespaces and the ConfigMaps sees it (e.g. `meshid ca rotate-root --wait`). */
export async function bundleCoverage(core: CoreV1Api, bundle: string): Promise<BundleCoverage> {
  const [namespaces, published] = await Promise.all([listNamespaceStates(core), listPublishedBundles(core)]);
  return {
    namespaces: namespaces.filter((ns) => !ns.terminating).length,
    published: countPublished(namespaces, published, { key: BUNDLE_KEY, bundle, labels: MANAGED_BY_LABELS }),
  };
}

/** Pure decisions for the trust bundle reconciler: what the cluster has, what it should have, what to write. */

export interface NamespaceState {
  name: string;
  /** Being deleted: the API refuses new objects in it, so it is neither written nor counted. */
  terminating: boolean;
}

export interface PublishedConfigMap {
  namespace: string;
  resourceVersion: string;
  data: Readonly<Record<string, string>>;
  binaryData: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
}

export interface DesiredBundle {
  key: string;
  bundle: string;
  labels: Readonly<Record<string, string>>;
}

export type BundleWrite =
  | { namespace: string; action: 'create' }
  | { namespace: string; action: 'update'; resourceVersion: string };

export function isCurrent(cm: PublishedConfigMap, want: DesiredBundle): boolean {
  const keys = Object.keys(cm.data);
  return keys.length === 1 && cm.data[want.key] === want.bundle && Object.keys(cm.binaryData).length === 0
    && Object.entries(want.labels).every(([k, v]) => cm.labels[k] === v);
}

/** Creates for namespaces without the ConfigMap, updates for any that differ in the slightest (edited, stale, unlabelled). */
export function planBundleWrites(namespaces: readonly NamespaceState[], published: readonly PublishedConfigMap[], want: DesiredBundle): BundleWrite[] {
  const byNamespace = new Map(published.map((cm) => [cm.namespace, cm]));
  const writes: BundleWrite[] = [];
  for (const ns of namespaces) {
    if (ns.terminating) continue;
    const cm = byNamespace.get(ns.name);
    if (!cm) writes.push({ namespace: ns.name, action: 'create' });
    else if (!isCurrent(cm, want)) writes.push({ namespace: ns.name, action: 'update', resourceVersion: cm.resourceVersion });
  }
  return writes;
}

export function countPublished(namespaces: readonly NamespaceState[], published: readonly PublishedConfigMap[], want: DesiredBundle): number {
  const live = new Set(namespaces.filter((ns) => !ns.terminating).map((ns) => ns.name));
  return published.filter((cm) => live.has(cm.namespace) && isCurrent(cm, want)).length;
}

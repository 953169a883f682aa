import type { PodInfo, PolicyObject } from './view.js';

interface Selectable {
  selector?: { matchLabels?: Record<string, string> };
}

/**
 * Istio's scoping: an object in the root namespace without a selector is mesh-wide, one in the pod's namespace
 * without a selector covers the namespace, one with a selector covers the pods of its namespace it matches
 * (in the root namespace, a selector matches pods of every namespace, as Istio does).
 */
export function appliesTo(pod: Pick<PodInfo, 'namespace' | 'labels'>, obj: PolicyObject<Selectable>, rootNamespace: string): boolean {
  if (obj.namespace !== pod.namespace && obj.namespace !== rootNamespace) return false;
  const match = obj.spec.selector?.matchLabels;
  if (!match) return true;
  return Object.entries(match).every(([k, v]) => pod.labels[k] === v);
}

export function policiesFor<S extends Selectable>(pod: Pick<PodInfo, 'namespace' | 'labels'>, objects: PolicyObject<S>[], rootNamespace: string): PolicyObject<S>[] {
  return objects.filter((o) => appliesTo(pod, o, rootNamespace));
}

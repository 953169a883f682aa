import type { InboundPort } from './view.js';
import { selects, type MeshPod, type MeshService } from './model.js';

/**
 * The pod's ports that Services selecting it expose: each Service port's targetPort, by number or by the name
 * of a containerPort (a name the pod does not declare exposes nothing, as with kube-proxy). HTTP if any
 * Service declares it so on that port.
 */
export function inboundPorts(pod: MeshPod, services: Iterable<MeshService>): InboundPort[] {
  const byPort = new Map<number, boolean>();
  for (const svc of services) {
    if (svc.namespace !== pod.namespace || !selects(svc.selector, pod.labels)) continue;
    for (const p of svc.ports) {
      const port = typeof p.targetPort === 'number' ? p.targetPort : pod.namedPorts[p.targetPort];
      if (port === undefined) continue;
      byPort.set(port, (byPort.get(port) ?? false) || p.http);
    }
  }
  return [...byPort].sort(([a], [b]) => a - b).map(([port, http]) => ({ port, http }));
}

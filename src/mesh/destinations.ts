import type { MeshDestination } from './view.js';
import { spiffeIdOf, type MeshEndpointSlice, type MeshPod, type MeshService } from './model.js';

/**
 * Which destinations are meshed (secure naming's input): mTLS is used only where every workload that can answer
 * holds an SVID, and then only those workloads' SPIFFE IDs are accepted. Anything uncertain is not meshed: a
 * plaintext passthrough keeps working, a wrong mTLS guess breaks the connection.
 */

/** Pods whose phase means their containers (and IP) are gone. */
export function isTerminal(pod: MeshPod): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

function isMeshedPod(pod: MeshPod): boolean {
  return pod.injected && pod.phase === 'Running';
}

/**
 * A pod IP is meshed while a running injected pod holds it and no other live pod does: an IP reused by a plain
 * pod (the old pod's deletion not yet seen) stops counting at once.
 */
export function podIpDestination(ip: string, holders: MeshPod[], trustDomain: string): MeshDestination | null {
  const live = holders.filter((p) => !isTerminal(p));
  if (live.length === 0 || !live.every(isMeshedPod)) return null;
  return { address: ip, port: null, identities: identitiesOf(live, trustDomain) };
}

/**
 * A Service's ClusterIP:port is meshed when it has ready endpoints for that port and every one is a running
 * injected pod; its identities are the union of theirs (two service accounts behind one Service: both).
 */
export function serviceDestinations(svc: MeshService, slices: Iterable<MeshEndpointSlice>, podByName: (name: string) => MeshPod | undefined, trustDomain: string): MeshDestination[] {
  if (svc.clusterIPs.length === 0) return [];
  const all = [...slices];
  const out: MeshDestination[] = [];
  for (const port of svc.ports) {
    const backends: MeshPod[] = [];
    let meshed = true;
    for (const slice of all) {
      if (!slice.portNames.includes(port.name)) continue;
      for (const e of slice.endpoints) {
        if (!e.ready) continue;
        const pod = e.pod === undefined ? undefined : podByName(e.pod);
        if (!pod || !isMeshedPod(pod)) meshed = false;
        else backends.push(pod);
      }
    }
    if (!meshed || backends.length === 0) continue;
    const identities = identitiesOf(backends, trustDomain);
    for (const ip of svc.clusterIPs) out.push({ address: ip, port: port.port, identities });
  }
  return out;
}

function identitiesOf(pods: MeshPod[], trustDomain: string): string[] {
  return [...new Set(pods.map((p) => spiffeIdOf(trustDomain, p)))].sort();
}

/**
 * The control plane's reading of the Kubernetes objects the mesh view is decided from: only the fields the
 * decisions use, taken from the raw API objects by convert.ts.
 */

export interface MeshPod {
  namespace: string;
  name: string;
  uid: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** status.podIPs (IPv4 and IPv6), or status.podIP. */
  ips: string[];
  phase: string;
  /** Carries a readable `meshid.io/status` annotation: the injector added the sidecar. */
  injected: boolean;
  /** containerPort by its name, for Service targetPorts given by name. */
  namedPorts: Record<string, number>;
}

export interface MeshServicePort {
  name: string;
  port: number;
  targetPort: number | string;
  /** appProtocol http* or a port name starting `http`: where methods and paths can be enforced. */
  http: boolean;
}

export interface MeshService {
  namespace: string;
  name: string;
  /** spec.clusterIPs; empty for a headless Service (its pods' IPs are destinations of their own). */
  clusterIPs: string[];
  /** null: a Service without a selector (its endpoints are managed by hand). */
  selector: Record<string, string> | null;
  ports: MeshServicePort[];
}

export interface MeshEndpoint {
  ready: boolean;
  /** targetRef of kind Pod, in the slice's namespace. */
  pod?: string;
  addresses: string[];
}

export interface MeshEndpointSlice {
  namespace: string;
  name: string;
  /** The `kubernetes.io/service-name` label. */
  service: string;
  /** Port names ('' for an unnamed Service port), as the slice carries them. */
  portNames: string[];
  endpoints: MeshEndpoint[];
}

export function objectKey(o: { namespace: string; name: string }): string {
  return `${o.namespace}/${o.name}`;
}

export function spiffeIdOf(trustDomain: string, pod: Pick<MeshPod, 'namespace' | 'serviceAccount'>): string {
  return `spiffe://${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`;
}

export function selects(selector: Record<string, string> | null | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

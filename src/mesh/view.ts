/**
 * What the control plane tells one agent about its own pod: the policy objects that apply to it and the meshed
 * destinations with the identities expected there. One definition for both sides: the control plane builds and
 * sends it (src/kube watching, src/mesh decisions), the agent applies updates to its last good view and derives
 * Envoy's listeners and clusters from it (src/policy).
 */

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** `spec` of security.meshid.io/v1 PeerAuthentication, as validated (Istio's shape; UNSET inherits). */
export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: MtlsMode | 'UNSET' };
  portLevelMtls?: Record<string, { mode: MtlsMode | 'UNSET' }>;
}

export interface PolicySource {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
}

export interface PolicyOperation {
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

/** `spec` of security.meshid.io/v1 AuthorizationPolicy, as validated. An empty spec denies all. */
export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  action?: 'ALLOW' | 'DENY';
  rules?: Array<{ from?: Array<{ source: PolicySource }>; to?: Array<{ operation: PolicyOperation }> }>;
}

export interface PolicyObject<S> {
  namespace: string;
  name: string;
  spec: S;
}

/** A port of the pod that a Service selecting it exposes (the resolved targetPort), and whether it is HTTP. */
export interface InboundPort {
  port: number;
  http: boolean;
}

/**
 * A destination known to be meshed: a pod IP (port null: every port of it) or a Service ClusterIP:port whose every
 * ready endpoint is an injected pod. `identities` are the SPIFFE IDs the workloads there hold (secure naming).
 */
export interface MeshDestination {
  address: string;
  port: number | null;
  identities: string[];
}

export interface PodInfo {
  namespace: string;
  name: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ips: string[];
}

export interface WorkloadView {
  /** `<epoch>:<revision>`: epoch changes when the control plane restarts, so an agent knows to take a full view. */
  version: string;
  trustDomain: string;
  /** The control plane's namespace: a PeerAuthentication or AuthorizationPolicy there is mesh-wide. */
  rootNamespace: string;
  pod: PodInfo;
  inboundPorts: InboundPort[];
  /** Only those that apply to this pod: mesh-wide, its namespace's, and those whose selector matches it. */
  peerAuthentications: PolicyObject<PeerAuthenticationSpec>[];
  authorizationPolicies: PolicyObject<AuthorizationPolicySpec>[];
  destinations: MeshDestination[];
}

/**
 * One message to an agent. `full` replaces the whole view; otherwise the policy fields, pod and ports (when
 * present) replace theirs and destinations change by key, so a pod starting in a large mesh costs each agent one
 * upsert, not the map.
 */
export interface ViewUpdate {
  version: string;
  full: boolean;
  trustDomain?: string;
  rootNamespace?: string;
  pod?: PodInfo;
  inboundPorts?: InboundPort[];
  peerAuthentications?: PolicyObject<PeerAuthenticationSpec>[];
  authorizationPolicies?: PolicyObject<AuthorizationPolicySpec>[];
  upserts: MeshDestination[];
  removes: string[];
}

/** Destinations are keyed by where a connection goes: `10.0.0.7` for a pod IP, `10.96.0.10:80` for a Service port. */
export function destinationKey(d: Pick<MeshDestination, 'address' | 'port'>): string {
  if (d.port === null) return d.address;
  return d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;
}

export class ViewUpdateError extends Error {}

/** The view after `update`; a delta needs the view it was computed against, else the agent asks for a full one. */
export function applyViewUpdate(view: WorkloadView | null, update: ViewUpdate): WorkloadView {
  if (update.full) {
    const { pod, trustDomain, rootNamespace } = update;
    if (!pod || !trustDomain || !rootNamespace) throw new ViewUpdateError(`full view ${update.version} lacks pod, trustDomain or rootNamespace`);
    return {
      version: update.version, trustDomain, rootNamespace, pod,
      inboundPorts: update.inboundPorts ?? [], peerAuthentications: update.peerAuthentications ?? [],
      authorizationPolicies: update.authorizationPolicies ?? [], destinations: sortDestinations(update.upserts),
    };
  }
  if (!view) throw new ViewUpdateError(`delta ${update.version} arrived with no view to apply it to`);
  const byKey = new Map(view.destinations.map((d) => [destinationKey(d), d]));
  for (const key of update.removes) byKey.delete(key);
  for (const d of update.upserts) byKey.set(destinationKey(d), d);
  return {
    version: update.version,
    trustDomain: update.trustDomain ?? view.trustDomain,
    rootNamespace: update.rootNamespace ?? view.rootNamespace,
    pod: update.pod ?? view.pod,
    inboundPorts: update.inboundPorts ?? view.inboundPorts,
    peerAuthentications: update.peerAuthentications ?? view.peerAuthentications,
    authorizationPolicies: update.authorizationPolicies ?? view.authorizationPolicies,
    destinations: sortDestinations([...byKey.values()]),
  };
}

function sortDestinations(ds: MeshDestination[]): MeshDestination[] {
  return [...ds].sort((a, b) => (destinationKey(a) < destinationKey(b) ? -1 : destinationKey(a) > destinationKey(b) ? 1 : 0));
}

/** Where an agent's parts read the view it holds; the last good view stays through a control plane outage. */
export interface ViewSource {
  current(): WorkloadView | null;
  /** Called with each new view; returns the unsubscribe. */
  onChange(listener: (view: WorkloadView) => void): () => void;
}

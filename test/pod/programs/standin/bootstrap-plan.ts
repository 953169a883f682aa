/**
 * What the stand-in must do, read from an Envoy v3 bootstrap that already passed the proto check: the
 * admin address, the static listeners to bind and the SDS subscriptions the transport sockets name. Pure:
 * every problem is collected with the path it was found at.
 */

/** `ipv4Compat`: Envoy's socket_address.ipv4_compat; without it Envoy binds an IPv6 address IPv6-only. */
export interface HostPort { address: string; port: number; ipv4Compat?: boolean }

export interface ListenerPlan { name: string; addresses: HostPort[] }

/** What a secret must carry for the transport socket that names it. */
export type SecretKind = 'tls_certificate' | 'validation_context';

/** A ConfigSource the stand-in can follow: gRPC to one static cluster. */
export interface ConfigSourcePlan {
  /** The static cluster the ConfigSource's envoy_grpc names. */
  cluster: string;
  /** gRPC target of that cluster's one endpoint: `unix:///path` or `host:port`. */
  target: string;
  setNodeOnFirstMessageOnly: boolean;
}

export interface SdsSubscription extends ConfigSourcePlan {
  /** Secret name -> what it must contain (a name used both ways needs both). */
  secrets: Map<string, Set<SecretKind>>;
}

export interface BootstrapPlan {
  node: Record<string, unknown>;
  admin: HostPort | null;
  listeners: ListenerPlan[];
  subscriptions: SdsSubscription[];
  /** dynamic_resources: where listeners and clusters come from, when they do not come from static_resources alone. */
  lds: ConfigSourcePlan | null;
  cds: ConfigSourcePlan | null;
  /** Resolves an SdsSecretConfig's sds_config in an LDS or CDS resource against the static clusters. */
  sdsSource(source: Json, path: string, problems: string[]): SdsSubscription | null;
}

type Json = Record<string, unknown>;

const asObject = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function planBootstrap(bootstrap: unknown): { plan: BootstrapPlan; problems: string[] } {
  const problems: string[] = [];
  const root = asObject(bootstrap);
  const resources = asObject(root.static_resources);
  const clusters = asArray(resources.clusters).map(asObject);
  const adminAddress = root.admin === undefined ? null : socketAddress(asObject(root.admin).address, 'bootstrap.admin.address', problems);
  const listeners = asArray(resources.listeners).map((raw, i) => {
    const l = asObject(raw);
    const path = `bootstrap.static_resources.listeners[${i}]`;
    const extra = asArray(l.additional_addresses).map((a, j) => socketAddress(asObject(a).address, `${path}.additional_addresses[${j}].address`, problems));
    const main = socketAddress(l.address, `${path}.address`, problems);
    return { name: typeof l.name === 'string' ? l.name : `listener-${i}`, addresses: [main, ...extra].filter((a): a is HostPort => a !== null) };
  });
  const subscriptions = new Map<string, SdsSubscription>();
  for (const [section, items] of [['listeners', asArray(resources.listeners)], ['clusters', clusters]] as const) {
    items.forEach((item, i) => collectSds(item, `bootstrap.static_resources.${section}[${i}]`, (name, kind, source, path) => {
      if (name === '') return void problems.push(`${path}.name: an SDS secret needs a name`);
      const sub = subscriptionFor(source, `${path}.sds_config`, clusters, subscriptions, problems);
      if (!sub) return;
      const kinds = sub.secrets.get(name) ?? new Set<SecretKind>();
      sub.secrets.set(name, kinds.add(kind));
    }));
  }
  const dynamic = asObject(root.dynamic_resources);
  const source = (key: 'lds_config' | 'cds_config'): ConfigSourcePlan | null => {
    if (dynamic[key] === undefined) return null;
    const sub = subscriptionFor(asObject(dynamic[key]), `bootstrap.dynamic_resources.${key}`, clusters, new Map(), problems);
    if (!sub) return null;
    if (asObject(dynamic[key]).resource_api_version !== 'V3') problems.push(`bootstrap.dynamic_resources.${key}.resource_api_version: must be V3`);
    return { cluster: sub.cluster, target: sub.target, setNodeOnFirstMessageOnly: sub.setNodeOnFirstMessageOnly };
  };
  const sdsSource = (src: Json, path: string, found: string[]) => subscriptionFor(src, path, clusters, subscriptions, found);
  return {
    plan: { node: asObject(root.node), admin: adminAddress, listeners, subscriptions: [...subscriptions.values()], lds: source('lds_config'), cds: source('cds_config'), sdsSource },
    problems,
  };
}

export type SecretVisitor = (name: string, kind: SecretKind, source: Json, path: string) => void;

/** Every SdsSecretConfig under `node`, wherever a transport socket (listener, filter chain, cluster) holds one. */
export function collectSds(node: unknown, path: string, visit: SecretVisitor): void {
  if (Array.isArray(node)) return node.forEach((n, i) => collectSds(n, `${path}[${i}]`, visit));
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node as Json)) {
    const at = `${path}.${key}`;
    if (key === 'tls_certificate_sds_secret_configs') {
      asArray(value).forEach((c, i) => visitSecret(c, 'tls_certificate', `${at}[${i}]`, visit));
    } else if (key === 'validation_context_sds_secret_config') {
      visitSecret(value, 'validation_context', at, visit);
    } else collectSds(value, at, visit);
  }
}

function visitSecret(raw: unknown, kind: SecretKind, path: string, visit: SecretVisitor): void {
  const c = asObject(raw);
  visit(typeof c.name === 'string' ? c.name : '', kind, asObject(c.sds_config), path);
}

function subscriptionFor(source: Json, path: string, clusters: Json[], subs: Map<string, SdsSubscription>, problems: string[]): SdsSubscription | null {
  const api = asObject(source.api_config_source);
  const grpcServices = asArray(api.grpc_services).map(asObject);
  const clusterName = asObject(grpcServices[0]?.envoy_grpc).cluster_name;
  if (api.api_type !== 'GRPC' || typeof clusterName !== 'string') {
    problems.push(`${path}: the stand-in follows only api_config_source api_type GRPC with envoy_grpc.cluster_name`);
    return null;
  }
  if (api.transport_api_version !== 'V3') problems.push(`${path}.api_config_source.transport_api_version: must be V3 (Envoy dropped v2)`);
  const known = subs.get(clusterName);
  if (known) return known;
  const index = clusters.findIndex((c) => c.name === clusterName);
  if (index < 0) {
    problems.push(`${path}: names cluster "${clusterName}", which static_resources.clusters does not define`);
    return null;
  }
  const target = clusterTarget(clusters[index]!, `bootstrap.static_resources.clusters[${index}]`, problems);
  if (!target) return null;
  const sub = { cluster: clusterName, target, setNodeOnFirstMessageOnly: api.set_node_on_first_message_only === true, secrets: new Map() };
  subs.set(clusterName, sub);
  return sub;
}

function clusterTarget(cluster: Json, path: string, problems: string[]): string | null {
  if (cluster.type !== undefined && cluster.type !== 'STATIC') {
    problems.push(`${path}.type: an SDS cluster must be STATIC for the stand-in, not ${String(cluster.type)}`);
    return null;
  }
  const endpoint = asObject(asObject(asArray(asObject(asArray(asObject(cluster.load_assignment).endpoints)[0]).lb_endpoints)[0]).endpoint);
  const address = asObject(endpoint.address);
  const pipe = asObject(address.pipe).path;
  if (typeof pipe === 'string' && pipe !== '') return `unix://${pipe}`;
  const hostPort = socketAddress(address, `${path}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address`, problems);
  if (!hostPort) return null;
  return hostPort.address.includes(':') ? `[${hostPort.address}]:${hostPort.port}` : `${hostPort.address}:${hostPort.port}`;
}

function socketAddress(raw: unknown, path: string, problems: string[]): HostPort | null {
  const sa = asObject(asObject(raw).socket_address);
  if (typeof sa.address !== 'string' || sa.address === '') {
    problems.push(`${path}: needs socket_address.address (the stand-in binds TCP addresses only)`);
    return null;
  }
  if (sa.protocol !== undefined && sa.protocol !== 'TCP') problems.push(`${path}.socket_address.protocol: only TCP is supported, got ${String(sa.protocol)}`);
  return { address: sa.address, port: typeof sa.port_value === 'number' ? sa.port_value : 0, ...(sa.ipv4_compat === true ? { ipv4Compat: true } : {}) };
}

/**
 * What the injected proxy container and `meshid agent` inside it must agree on (design.md, "Injection" and
 * "Ports and endpoints"): the injector writes the container from these, the agent takes its defaults from
 * them, so a pod spec run by hand fits without flags.
 */

/** Mount points of the injected volumes in the proxy container. */
export const MOUNT_CERTS = '/var/run/meshid';
export const MOUNT_TOKEN = '/var/run/secrets/meshid/tokens';
export const MOUNT_CA_ROOT = '/var/run/secrets/meshid/ca-root';
export const MOUNT_PODINFO = '/etc/meshid/pod';
/**
 * The SPIFFE Workload API socket's folder: its own emptyDir, so app containers share the socket and
 * nothing else of the agent's (the SVID key stays in MOUNT_CERTS, which they never mount).
 */
export const MOUNT_WORKLOAD = `${MOUNT_CERTS}/workload`;

/** The projected token's path inside its volume, and the ConfigMap key inside the CA root volume. */
export const TOKEN_FILE = 'meshid-token';
export const CA_ROOT_FILE = 'root-cert.pem';
/** The ConfigMap the control plane publishes the trust bundle as, in every namespace, under key CA_ROOT_FILE. */
export const TRUST_BUNDLE_CONFIGMAP = 'meshid-ca-root-cert';
export const TOKEN_AUDIENCE = 'meshid-ca';

/** Files the agent reads and writes, all under the mounts above (the root filesystem is read-only). */
export const POD_PATHS = {
  tokenFile: `${MOUNT_TOKEN}/${TOKEN_FILE}`,
  caRootFile: `${MOUNT_CA_ROOT}/${CA_ROOT_FILE}`,
  sdsSocket: `${MOUNT_CERTS}/sds.sock`,
  workloadSocket: `${MOUNT_WORKLOAD}/socket`,
  outDir: `${MOUNT_CERTS}/certs`,
  envoyConfig: `${MOUNT_CERTS}/envoy-bootstrap.json`,
  /** Where the image carries Envoy (Dockerfile). */
  envoyBinary: '/usr/local/bin/envoy',
} as const;

export const PORTS = {
  envoyAdmin: 15000,
  outbound: 15001,
  inbound: 15006,
  /** Agent: /metrics and the rewritten app probes. */
  agentStatus: 15020,
  /** Agent: READY_PATH. */
  agentHealth: 15021,
  envoyStats: 15090,
} as const;

export const READY_PATH = '/healthz/ready';

/** The proxy container's uid: iptables never redirects its traffic, so Envoy's own connections leave as they are. */
export const PROXY_UID = 1337;
/** The mesh view the agent holds, written beside the SDS socket (in the meshid-certs volume) for `kubectl exec` and tests. */
export const VIEW_FILE = 'view.json';

/** Env vars of the proxy container that `meshid agent` reads. */
export const POD_ENV = {
  podName: 'POD_NAME',
  namespace: 'POD_NAMESPACE',
  serviceAccount: 'SERVICE_ACCOUNT',
  podIp: 'POD_IP',
  /** Every pod IP, comma-separated (downward API status.podIPs): an IPv6 one makes Envoy listen on [::] too. */
  podIps: 'POD_IPS',
  nodeName: 'NODE_NAME',
  caAddr: 'CA_ADDR',
  trustDomain: 'TRUST_DOMAIN',
  envoyBinary: 'MESHID_ENVOY_BINARY',
  graceRatio: 'SECRET_GRACE_PERIOD_RATIO',
  nodeOptions: 'NODE_OPTIONS',
} as const;

/**
 * Env of the app containers: where a SPIFFE library (go-spiffe, java-spiffe, py-spiffe, spiffe-helper)
 * looks for the Workload API when not told otherwise (SPIFFE Workload Endpoint, "Locating the Endpoint").
 */
export const SPIFFE_ENDPOINT_SOCKET_ENV = 'SPIFFE_ENDPOINT_SOCKET';
export const SPIFFE_ENDPOINT_SOCKET = `unix://${POD_PATHS.workloadSocket}`;

/**
 * Identity without a sidecar (design.md, "Kubernetes-native and compatible interfaces"): the kubelet fills a
 * `podCertificate` projected volume from meshid's PodCertificateRequest signer. The injector writes the volume
 * from these, the signer answers for SIGNER, and apps read the files at these paths.
 */
export const POD_CERTIFICATE = {
  signer: 'meshid.io/svid',
  /** The ClusterTrustBundle that carries the trust bundle for SIGNER. */
  clusterTrustBundle: 'meshid.io:svid:roots',
  /** What the kubelet generates: P-256, design.md's default workload key. */
  keyType: 'ECDSAP256',
  volume: 'meshid-svid',
  mountPath: '/var/run/secrets/meshid/svid',
  /** One file, PKCS#8 key then the chain, so an app reads key and certificate consistently in one read. */
  credentialBundleFile: 'credential-bundle.pem',
  /** The trust bundle (ConfigMap meshid-ca-root-cert) projected beside it. */
  trustBundleFile: CA_ROOT_FILE,
} as const;

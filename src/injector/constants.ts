/** Names and ports fixed by the design contract (design.md), shared by every injector module. */
export const INIT_CONTAINER = 'meshid-init';
export const PROXY_CONTAINER = 'meshid-proxy';

export const VOLUME_CERTS = 'meshid-certs';
export const VOLUME_TOKEN = 'meshid-token';
export const VOLUME_CA_ROOT = 'meshid-ca-root';
export const VOLUME_PODINFO = 'meshid-podinfo';

export const CA_ROOT_CONFIGMAP = 'meshid-ca-root-cert';
export const TOKEN_AUDIENCE = 'meshid-ca';

export const PORT_OUTBOUND = 15001;
export const PORT_INBOUND = 15006;
export const PORT_AGENT = 15020;
export const PORT_HEALTH = 15021;
export const PORT_ENVOY_PROM = 15090;

export const STATUS_ANNOTATION = 'meshid.io/status';
export const INJECT_LABEL = 'meshid.io/inject';
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';
export const OVERRIDE_PREFIX = 'sidecar.meshid.io/';

/** Env var carrying the original app probes, keyed by the agent path that replaces them. */
export const APP_PROBERS_ENV = 'MESHID_APP_PROBES';

export const MOUNT_CERTS = '/var/run/meshid';
export const MOUNT_TOKEN = '/var/run/secrets/meshid/tokens';
export const MOUNT_CA_ROOT = '/var/run/secrets/meshid/ca-root';
export const MOUNT_PODINFO = '/etc/meshid/pod';
export const TOKEN_FILE = 'meshid-token';
export const SDS_SOCKET = `${MOUNT_CERTS}/sds.sock`;

export const NEVER_INJECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

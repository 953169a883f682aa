/** Names fixed by the design contract (design.md) that only the injector uses; the pod side is in pod-contract. */
export const INIT_CONTAINER = 'meshid-init';
export const PROXY_CONTAINER = 'meshid-proxy';

export const VOLUME_CERTS = 'meshid-certs';
export const VOLUME_TOKEN = 'meshid-token';
export const VOLUME_CA_ROOT = 'meshid-ca-root';
export const VOLUME_PODINFO = 'meshid-podinfo';
export const VOLUME_WORKLOAD = 'meshid-workload';

export const STATUS_ANNOTATION = 'meshid.io/status';
export const INJECT_LABEL = 'meshid.io/inject';
export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';
export const OVERRIDE_PREFIX = 'sidecar.meshid.io/';
/** What the injector adds: the sidecar (default), or only a podCertificate volume (identity without a sidecar). */
export const MODE_ANNOTATION = `${OVERRIDE_PREFIX}mode`;
export const INJECTION_MODES = ['sidecar', 'pod-certificate'] as const;
export type InjectionMode = (typeof INJECTION_MODES)[number];

export const NEVER_INJECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

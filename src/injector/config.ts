import { DEFAULT_MESHID_IMAGE } from '../common/image.js';
import { caAddressIn, CONTROL_PLANE_NAMESPACE } from '../common/control-plane.js';
import { PROXY_UID } from '../common/pod-contract.js';

/** What the injector needs to know about the mesh it injects into; every field has a default. */
export interface InjectorConfig {
  /** The image of both injected containers: `meshid iptables` (meshid-init) and `meshid agent` (meshid-proxy). */
  proxyImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** The control plane's own namespace, never injected. */
  controlPlaneNamespace: string;
  /** host:port of the CA API (15012) as seen from pods. */
  caAddress: string;
  trustDomain: string;
  /** Kubernetes 1.28+ native sidecars: the proxy becomes an init container with restartPolicy Always. */
  nativeSidecar: boolean;
  rewriteAppProbes: boolean;
  holdApplicationUntilProxyStarts: boolean;
  proxyUid: number;
  proxyResources: { cpu: string; memory: string; cpuLimit: string; memoryLimit: string };
  /** Lifetime of the projected ServiceAccount token the agent presents to the CA. */
  tokenExpirationSeconds: number;
}

export const DEFAULT_INJECTOR_CONFIG: Readonly<InjectorConfig> = Object.freeze({
  proxyImage: DEFAULT_MESHID_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  controlPlaneNamespace: CONTROL_PLANE_NAMESPACE,
  caAddress: caAddressIn(CONTROL_PLANE_NAMESPACE),
  trustDomain: 'cluster.local',
  nativeSidecar: true,
  rewriteAppProbes: true,
  holdApplicationUntilProxyStarts: true,
  proxyUid: PROXY_UID,
  proxyResources: Object.freeze({ cpu: '100m', memory: '128Mi', cpuLimit: '2', memoryLimit: '1Gi' }),
  tokenExpirationSeconds: 3600,
});

export function injectorConfig(overrides: Partial<InjectorConfig> = {}): InjectorConfig {
  return {
    ...DEFAULT_INJECTOR_CONFIG,
    ...overrides,
    proxyResources: { ...DEFAULT_INJECTOR_CONFIG.proxyResources, ...overrides.proxyResources },
  };
}

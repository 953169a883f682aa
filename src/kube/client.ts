import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  OpenidApi,
  WellKnownApi,
  Watch,
} from '@kubernetes/client-node';
import { MeshidError } from '../common/errors.js';
import { CONTROL_PLANE_NAMESPACE } from '../common/control-plane.js';

/** Every API group meshid calls, built once from one KubeConfig. */
export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;
  readonly authentication: AuthenticationV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly wellKnown: WellKnownApi;
  readonly openid: OpenidApi;
  readonly discovery: DiscoveryV1Api;
  readonly custom: CustomObjectsApi;
  readonly watch: Watch;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
export const DEFAULT_NAMESPACE = CONTROL_PLANE_NAMESPACE;

/**
 * In a pod, the mounted ServiceAccount; elsewhere `kubeconfig` (or $KUBECONFIG, ~/.kube/config).
 * loadFromDefault already prefers in-cluster only when no kubeconfig exists, which is what an operator
 * running `meshid serve` from a laptop against a cluster expects.
 */
export function loadKubeConfig(opts: { kubeconfig?: string } = {}): KubeConfig {
  if (!opts.kubeconfig && !hasDefaultConfig(process.env, existsSync)) {
    // loadFromDefault would fall back to http://localhost:8080 and fail later with a protocol error.
    throw new MeshidError('kubeconfig_missing', 'no kubeconfig or in-cluster config found ($KUBECONFIG unset, no ~/.kube/config, not in a pod); pass one with --kubeconfig FILE or set KUBECONFIG');
  }
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new MeshidError('kubeconfig_invalid', `cannot load Kubernetes config${opts.kubeconfig ? ` from ${opts.kubeconfig}` : ''}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) {
    throw new MeshidError('kubeconfig_invalid', 'no Kubernetes cluster found: run in a pod, or set KUBECONFIG / --kubeconfig');
  }
  return kc;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** What loadFromDefault would find: $KUBECONFIG, ~/.kube/config, or a pod's ServiceAccount. */
export function hasDefaultConfig(env: NodeJS.ProcessEnv, exists: (path: string) => boolean): boolean {
  if (env.KUBECONFIG) return true;
  if (exists(join(env.HOME ?? homedir(), '.kube', 'config'))) return true;
  return Boolean(env.KUBERNETES_SERVICE_HOST) && exists(IN_CLUSTER_TOKEN);
}

export function createKubeClients(config: KubeConfig): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    authentication: config.makeApiClient(AuthenticationV1Api),
    admission: config.makeApiClient(AdmissionregistrationV1Api),
    wellKnown: config.makeApiClient(WellKnownApi),
    openid: config.makeApiClient(OpenidApi),
    discovery: config.makeApiClient(DiscoveryV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    watch: new Watch(config),
  };
}

/** The control plane's own namespace: $POD_NAMESPACE (downward API), the mounted ServiceAccount's, or meshid-system. */
export function controlPlaneNamespace(env: NodeJS.ProcessEnv = process.env, saFile = SA_NAMESPACE_FILE): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    const ns = readFileSync(saFile, 'utf8').trim();
    if (ns) return ns;
  } catch {
    // Not in a pod: fall through to the default install namespace.
  }
  return DEFAULT_NAMESPACE;
}

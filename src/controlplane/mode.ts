import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { CertificateAuthority } from '../ca/authority.js';
import type { TokenVerifier } from '../ca/auth/verifier.js';
import type { NodePods } from '../ca/istio/impersonation.js';
import type { ViewProvider } from '../ca/view-api.js';
import type { RotationDriverOptions } from '../ca/rotation/driver.js';
import type { CaStore } from '../ca/store.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { ClusterTiming } from './cluster-timing.js';
import type { ServeConfig } from './config.js';

/** What local and cluster mode differ in; everything else in `meshid serve` is the same code. */
export interface ModeParts {
  store: CaStore;
  verifier: TokenVerifier;
  /** Cluster mode: which service accounts have pods on a node, for the Istio CA API's impersonation check. */
  nodePods?: NodePods;
  /** Cluster mode: the mesh view served to agents on the CA port. */
  views?: ViewProvider;
  /** The control plane's namespace: excluded from injection, named in serving certificates. */
  namespace: string;
  /** Where the trust bundle is published, as the ready line names it. */
  trustBundle: string;
  /** Local mode only: the data directory and its root-cert.pem; '' in cluster mode. */
  dataDir: string;
  trustBundlePath: string;
  /** Runs a startup step; cluster mode retries while the API server is unreachable or refuses. */
  startup<T>(what: string, step: () => Promise<T>): Promise<T>;
  /** The singleton and upkeep work, started once the CA is loaded. */
  attach(authority: CertificateAuthority): Attached;
}

export interface Attached {
  rotation: Pick<RotationDriverOptions, 'isLeader' | 'publishedEverywhere'>;
  isLeader(): boolean;
  close(): Promise<void>;
}

export interface ModeContext {
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Startup progress for /readyz: why the control plane is not ready yet. */
  notReady(reason: string): void;
  namespace?: string;
  /** Cluster mode: the API to use instead of loading a kubeconfig. */
  kubeConfig?: KubeConfig;
  /** Cluster mode: this replica's name in leader election. */
  identity?: string;
  timing?: Partial<ClusterTiming>;
}

export type ModeFactory = (cfg: ServeConfig, ctx: ModeContext) => Promise<ModeParts>;

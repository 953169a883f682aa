import { POD_PATHS, PORTS } from '../common/pod-contract.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import type { RenewalPolicy } from './rotation.js';

/** Everything `meshid agent` needs, validated (see src/cli/agent.ts for where each value comes from). */
export interface AgentConfig {
  caUrl: string;
  caRootFile: string;
  tokenFile: string;
  namespace: string;
  serviceAccount: string;
  trustDomain: string;
  /** Requested certificate TTL; the CA may cap it. Undefined: the CA's default. */
  certTtlSeconds?: number;
  keyAlgorithm: KeyAlgorithm;
  /** Where to write cert-chain.pem, key.pem and root-cert.pem; undefined: no files. */
  outDir?: string;
  sdsSocket: string;
  /** The SPIFFE Workload API's Unix socket, shared with the app containers. */
  workloadSocket: string;
  /** 15020: /metrics and the rewritten app probes. */
  statusPort: number;
  /** 15021: /healthz/ready. */
  healthPort: number;
  /** Address the two HTTP ports listen on. */
  listenHost: string;
  /** MESHID_APP_PROBES, as the injector wrote it. */
  appProbesJson?: string;
  /** The pod's IPs (POD_IPS): an IPv6 one makes Envoy listen on [::] beside 0.0.0.0. */
  podIps?: readonly string[];
  /** --once: how long to keep retrying a CA that is down or not yet trusted before giving up (default onceTimeout). */
  onceTimeoutMs?: number;
  /** Envoy: run and supervise it only when a binary is given. */
  envoyBinary?: string;
  envoyConfigPath: string;
  /** The pod's name (POD_NAME): when known, the agent follows this pod's mesh view from the control plane. */
  podName?: string;
  /** Where the view is written (VIEW_FILE beside the SDS socket unless given). */
  viewFile?: string;
  /** How often the mounted trust bundle is checked for a root rotation. */
  bundlePollMs: number;
  /** When to renew; undefined: at about half of each certificate's life (DEFAULT_RENEWAL). */
  renewal?: RenewalPolicy;
}

/** The paths and ports are the injected container's (pod-contract), so the injected pod needs no flags. */
export const AGENT_DEFAULTS = {
  sdsSocket: POD_PATHS.sdsSocket,
  workloadSocket: POD_PATHS.workloadSocket,
  tokenFile: POD_PATHS.tokenFile,
  caRootFile: POD_PATHS.caRootFile,
  trustDomain: 'cluster.local',
  statusPort: PORTS.agentStatus,
  healthPort: PORTS.agentHealth,
  listenHost: '::',
  envoyConfigPath: POD_PATHS.envoyConfig,
  bundlePollMs: 5_000,
  onceTimeout: '2m',
  keyAlgorithm: 'ec-p256' as KeyAlgorithm,
} as const;

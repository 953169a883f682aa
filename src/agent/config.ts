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
  /** 15020: /metrics and the rewritten app probes. */
  statusPort: number;
  /** 15021: /healthz/ready. */
  healthPort: number;
  /** Address the two HTTP ports listen on. */
  listenHost: string;
  /** MESHID_APP_PROBES, as the injector wrote it. */
  appProbesJson?: string;
  /** Envoy: run and supervise it only when a binary is given. */
  envoyBinary?: string;
  envoyConfigPath: string;
  /** How often the mounted trust bundle is checked for a root rotation. */
  bundlePollMs: number;
  /** When to renew; undefined: at about half of each certificate's life (DEFAULT_RENEWAL). */
  renewal?: RenewalPolicy;
}

export const AGENT_DEFAULTS = {
  sdsSocket: '/var/run/meshid/sds.sock',
  tokenFile: '/var/run/secrets/tokens/meshid-token',
  caRootFile: '/var/run/meshid/ca-root/root-cert.pem',
  trustDomain: 'cluster.local',
  statusPort: 15020,
  healthPort: 15021,
  listenHost: '0.0.0.0',
  envoyConfigPath: '/var/run/meshid/envoy-bootstrap.json',
  bundlePollMs: 5_000,
  keyAlgorithm: 'ec-p256' as KeyAlgorithm,
} as const;

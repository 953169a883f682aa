import { isIP } from 'node:net';
import { parseDuration, formatDuration } from '../common/duration.js';
import { DEFAULT_MESHID_IMAGE, PROXY_IMAGE_ENV } from '../common/image.js';
import { parseImage } from '../injector/values.js';
import { DEFAULT_LISTEN_ADDRESS } from './listen.js';
import { MIN_CERT_TTL_MS } from '../ca/ttl.js';
import { parseTrustedNodeAccounts, type ServiceAccountRef } from '../ca/istio/impersonation.js';
import { parseExclusions } from '../ca/podcert/exclusions.js';
import { validateTrustDomain } from '../pki/spiffe.js';
import { CONTROL_PLANE_PORTS } from '../common/control-plane.js';

/** How a cluster-mode control plane authenticates workload tokens. */
export const TOKEN_VERIFIERS = ['jwks', 'tokenreview'] as const;
export type TokenVerifierKind = (typeof TOKEN_VERIFIERS)[number];

export interface ServeConfig {
  local: boolean;
  dataDir: string;
  trustDomain: string;
  webhookPort: number;
  caPort: number;
  /** The Istio-compatible CA API (gRPC). */
  istioCaPort: number;
  monitoringPort: number;
  workloadCertTtlMs: number;
  maxWorkloadCertTtlMs: number;
  bundlePropagationDelayMs: number;
  /** Cluster mode: kubeconfig file; undefined means in-cluster, $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  tokenVerifier: TokenVerifierKind;
  /** Cluster mode: refuse tokens not bound to a pod, and tokens whose pod no longer exists. */
  requireBoundPod: boolean;
  /** An IP literal; undefined means the default, `::`, which falls back to 0.0.0.0 where IPv6 is missing. */
  listenAddress?: string;
  /** Past this many CA requests in flight, more are answered at once with 429 and Retry-After. */
  caMaxInFlight: number;
  /** What the injector writes for both injected containers (the pod's proxyImage annotation still wins). */
  proxyImage: string;
  /** Cluster mode: who may ask the Istio CA API for another workload's certificate (ztunnel's ImpersonatedIdentity). */
  caTrustedNodeAccounts: ServiceAccountRef[];
  /** Cluster mode: also publish the trust bundle as Istio's ConfigMap istio-ca-root-cert. */
  istioCompat: boolean;
  /** Cluster mode: namespaces (NS) and service accounts (NS/SA) the PodCertificateRequest signer denies. */
  podCertificateDeny: string[];
}

export const SERVE_DEFAULTS = {
  'data-dir': './.meshid',
  'trust-domain': 'cluster.local',
  'webhook-port': String(CONTROL_PLANE_PORTS.webhook),
  'ca-port': String(CONTROL_PLANE_PORTS.ca),
  'istio-ca-port': String(CONTROL_PLANE_PORTS.istioCa),
  'monitoring-port': String(CONTROL_PLANE_PORTS.monitoring),
  'workload-cert-ttl': '24h',
  'max-workload-cert-ttl': '7d',
  'bundle-propagation-delay': '5m',
  'token-verifier': 'jwks',
  'ca-max-in-flight': '1000',
} as const;

export type ServeFlags = {
  local?: boolean; kubeconfig?: string; 'require-bound-pod'?: boolean; 'listen-address'?: string; 'proxy-image'?: string;
  'ca-trusted-node-accounts'?: string; 'istio-compat'?: boolean; 'pod-certificate-deny'?: string;
} & Partial<Record<keyof typeof SERVE_DEFAULTS, string>>;

/** Validates every flag and reports all wrong values at once, each with what would be right. */
export function parseServeConfig(flags: ServeFlags): ServeConfig {
  const problems: string[] = [];
  const get = (k: keyof typeof SERVE_DEFAULTS) => flags[k] ?? SERVE_DEFAULTS[k];
  const port = (k: 'webhook-port' | 'ca-port' | 'istio-ca-port' | 'monitoring-port') => {
    const v = get(k);
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
      problems.push(`--${k} "${v.slice(0, 32)}" must be a port number from 0 to 65535 (0 picks a free port)`);
      return 0;
    }
    return Number(v);
  };
  const duration = (k: 'workload-cert-ttl' | 'max-workload-cert-ttl' | 'bundle-propagation-delay') => {
    try {
      return parseDuration(get(k), `--${k}`);
    } catch (err) {
      problems.push((err as Error).message);
      return 0;
    }
  };
  let trustDomain = get('trust-domain');
  try {
    trustDomain = validateTrustDomain(trustDomain);
  } catch (err) {
    problems.push(`--trust-domain: ${(err as Error).message}`);
  }
  const tokenVerifier = get('token-verifier');
  if (!(TOKEN_VERIFIERS as readonly string[]).includes(tokenVerifier)) {
    problems.push(`--token-verifier "${tokenVerifier.slice(0, 32)}" must be one of ${TOKEN_VERIFIERS.join(', ')}`);
  }
  const listenAddress = flags['listen-address'];
  if (listenAddress !== undefined && isIP(listenAddress) === 0) {
    problems.push(`--listen-address ${JSON.stringify(listenAddress.slice(0, 64))} must be an IP address such as ${DEFAULT_LISTEN_ADDRESS}, 0.0.0.0 or 127.0.0.1`);
  }
  const maxInFlight = get('ca-max-in-flight');
  if (!/^\d{1,7}$/.test(maxInFlight) || Number(maxInFlight) < 1) problems.push(`--ca-max-in-flight "${maxInFlight.slice(0, 32)}" must be a whole number of requests, at least 1`);
  let caTrustedNodeAccounts: ServiceAccountRef[] = [];
  try {
    caTrustedNodeAccounts = parseTrustedNodeAccounts(flags['ca-trusted-node-accounts'] ?? '');
  } catch (err) {
    problems.push((err as Error).message);
  }
  let podCertificateDeny: string[] = [];
  try {
    podCertificateDeny = parseExclusions(flags['pod-certificate-deny'] ?? '');
  } catch (err) {
    problems.push(`--pod-certificate-deny: ${(err as Error).message}`);
  }
  const proxyImage = parseImage(flags['proxy-image'] ?? DEFAULT_MESHID_IMAGE);
  if (!proxyImage.ok) problems.push(`--proxy-image (or $${PROXY_IMAGE_ENV}): ${proxyImage.reason}`);
  const config: ServeConfig = {
    local: flags.local === true,
    dataDir: get('data-dir'),
    trustDomain,
    webhookPort: port('webhook-port'),
    caPort: port('ca-port'),
    istioCaPort: port('istio-ca-port'),
    monitoringPort: port('monitoring-port'),
    workloadCertTtlMs: duration('workload-cert-ttl'),
    maxWorkloadCertTtlMs: duration('max-workload-cert-ttl'),
    bundlePropagationDelayMs: duration('bundle-propagation-delay'),
    kubeconfig: flags.kubeconfig,
    tokenVerifier: tokenVerifier as TokenVerifierKind,
    requireBoundPod: flags['require-bound-pod'] === true,
    listenAddress,
    caMaxInFlight: Number(maxInFlight) || 1,
    proxyImage: proxyImage.ok ? proxyImage.value : DEFAULT_MESHID_IMAGE,
    caTrustedNodeAccounts,
    istioCompat: flags['istio-compat'] === true,
    podCertificateDeny,
  };
  if (config.workloadCertTtlMs && config.workloadCertTtlMs < MIN_CERT_TTL_MS) problems.push(`--workload-cert-ttl must be at least ${formatDuration(MIN_CERT_TTL_MS)}`);
  if (config.workloadCertTtlMs && config.maxWorkloadCertTtlMs && config.workloadCertTtlMs > config.maxWorkloadCertTtlMs) {
    problems.push(`--workload-cert-ttl (${formatDuration(config.workloadCertTtlMs)}) must not exceed --max-workload-cert-ttl (${formatDuration(config.maxWorkloadCertTtlMs)})`);
  }
  const ports = (['webhook-port', 'ca-port', 'istio-ca-port', 'monitoring-port'] as const).map((k) => [k, get(k)] as const);
  for (const [i, [k, v]] of ports.entries()) {
    const same = ports.slice(i + 1).find(([, w]) => w === v && Number(v) !== 0);
    if (same) problems.push(`--${k} and --${same[0]} are both ${v}; each server needs a port of its own (0 picks a free one)`);
  }
  if (config.dataDir.trim() === '') problems.push('--data-dir must not be empty');
  if (flags.kubeconfig !== undefined && flags.kubeconfig.trim() === '') problems.push('--kubeconfig must not be empty (omit it to use in-cluster config or $KUBECONFIG)');
  // Said rather than ignored: someone passing these with --local expects them to do something.
  const clusterOnly = (['kubeconfig', 'token-verifier', 'require-bound-pod', 'ca-trusted-node-accounts', 'istio-compat', 'pod-certificate-deny'] as const).filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (config.local && clusterOnly.length) problems.push(`${clusterOnly.map((k) => `--${k}`).join(', ')} only apply to cluster mode; drop them or drop --local`);
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  return config;
}

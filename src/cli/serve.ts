import { DEFAULT_MESHID_IMAGE, PROXY_IMAGE_ENV } from '../common/image.js';
import { parseServeConfig, SERVE_DEFAULTS, TOKEN_VERIFIERS } from '../controlplane/config.js';
import { DEFAULT_LISTEN_ADDRESS } from '../controlplane/listen.js';
import { startControlPlane } from '../controlplane/start.js';
import { createLogger } from '../common/log.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid serve [--local] [--data-dir DIR] [--trust-domain TD] [--listen-address IP] [--webhook-port N]
                    [--ca-port N] [--istio-ca-port N] [--monitoring-port N] [--proxy-image IMAGE] [--workload-cert-ttl 24h]
                    [--max-workload-cert-ttl 7d] [--bundle-propagation-delay 5m] [--kubeconfig FILE]
                    [--token-verifier jwks|tokenreview] [--require-bound-pod] [--ca-trusted-node-accounts NS/SA,...] [--istio-compat]
                    [--ca-max-in-flight N] [--pod-certificate-deny NS[/SA],...]
  Runs the control plane: CA API (${SERVE_DEFAULTS['ca-port']}), Istio-compatible CA API over gRPC (${SERVE_DEFAULTS['istio-ca-port']}),
  injection webhook (${SERVE_DEFAULTS['webhook-port']}), metrics and health (${SERVE_DEFAULTS['monitoring-port']}).
  --listen-address IP     where they all listen (default ${DEFAULT_LISTEN_ADDRESS}, every interface, IPv4 and IPv6; 0.0.0.0
                          if the host has no IPv6); 127.0.0.1 keeps them on this machine
  --ca-max-in-flight N    CA requests answered at once (default ${SERVE_DEFAULTS['ca-max-in-flight']}); past it a request gets 429 with
                          Retry-After right away, which agents honour, instead of waiting until it times out
  --proxy-image IMAGE     the image the injector writes for meshid-init and meshid-proxy (env ${PROXY_IMAGE_ENV};
                          default ${DEFAULT_MESHID_IMAGE}); a pod's sidecar.meshid.io/proxyImage annotation still wins
  --local keeps the CA material and the token issuer in DIR (default ${SERVE_DEFAULTS['data-dir']}); no cluster needed.
  Without --local (cluster mode) it uses the Kubernetes API: CA material in
  Secret meshid-ca (or the operator's cacerts), the trust bundle published as ConfigMap meshid-ca-root-cert
  in every namespace, the webhook's caBundle kept current, one replica leading through Lease meshid-leader.
  --kubeconfig FILE       the cluster to use (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)
  --token-verifier KIND   ${TOKEN_VERIFIERS.join(' or ')} (default ${SERVE_DEFAULTS['token-verifier']}): verify workload tokens against the cluster's
                          service account issuer keys, or ask the API server (TokenReview) for each one
  --require-bound-pod     refuse tokens not bound to a pod, and tokens whose pod no longer exists
  --ca-trusted-node-accounts NS/SA,...  node agents (such as ztunnel) that may ask the Istio CA API for the certificate
                          of a service account with a pod on their own node (ImpersonatedIdentity)
  --istio-compat          also publish the trust bundle as ConfigMap istio-ca-root-cert (key root-cert.pem), for Istio sidecars
  --pod-certificate-deny LIST  namespaces (NS) and service accounts (NS/SA) whose PodCertificateRequests for
                          meshid.io/svid are denied (reason IdentityExcluded); comma-separated`;

const str = { type: 'string' } as const;
const OPTIONS = {
  local: { type: 'boolean' },
  'data-dir': str, 'trust-domain': str, 'webhook-port': str, 'ca-port': str, 'istio-ca-port': str, 'monitoring-port': str,
  'workload-cert-ttl': str, 'max-workload-cert-ttl': str, 'bundle-propagation-delay': str,
  kubeconfig: str, 'token-verifier': str, 'require-bound-pod': { type: 'boolean' },
  'listen-address': str, 'proxy-image': str, 'ca-max-in-flight': str, 'ca-trusted-node-accounts': str, 'istio-compat': { type: 'boolean' },
  'pod-certificate-deny': str,
} as const;

export async function serveCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags(argv, OPTIONS, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    // The flag wins over the environment, which the install sets from the Deployment's own image.
    config = parseServeConfig({ ...values, 'proxy-image': values['proxy-image'] ?? env[PROXY_IMAGE_ENV] });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logger = createLogger();
  const cp = await startControlPlane({ ...config, logger });
  io.stdout(`meshid ready: ca=${cp.caUrl}/v1/certificates webhook=${cp.webhookUrl}/inject monitoring=${cp.monitoringUrl}/metrics istio-ca=${cp.istioCaAddress} trust-bundle=${cp.trustBundle}\n`);
  logger.info({ ca: cp.caUrl, istioCa: cp.istioCaAddress, webhook: cp.webhookUrl, monitoring: cp.monitoringUrl, listen: cp.host, proxyImage: config.proxyImage, trustBundle: cp.trustBundle, local: config.local }, 'control plane ready');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('shutting down');
  await cp.close();
  logger.flush();
  return 0;
}

import { parseServeConfig, SERVE_DEFAULTS, TOKEN_VERIFIERS } from '../controlplane/config.js';
import { startControlPlane } from '../controlplane/start.js';
import { createLogger } from '../common/log.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid serve [--local] [--data-dir DIR] [--trust-domain TD] [--webhook-port N] [--ca-port N]
                    [--monitoring-port N] [--workload-cert-ttl 24h] [--max-workload-cert-ttl 7d]
                    [--bundle-propagation-delay 5m] [--kubeconfig FILE] [--token-verifier jwks|tokenreview]
                    [--require-bound-pod]
  Runs the control plane: CA API (${SERVE_DEFAULTS['ca-port']}), injection webhook (${SERVE_DEFAULTS['webhook-port']}), metrics and health (${SERVE_DEFAULTS['monitoring-port']}).
  --local keeps the CA material and the token issuer in DIR (default ${SERVE_DEFAULTS['data-dir']}); no cluster needed; listens on loopback.
  Without --local (cluster mode) it listens on every interface and uses the Kubernetes API: CA material in
  Secret meshid-ca (or the operator's cacerts), the trust bundle published as ConfigMap meshid-ca-root-cert
  in every namespace, the webhook's caBundle kept current, one replica leading through Lease meshid-leader.
  --kubeconfig FILE       the cluster to use (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)
  --token-verifier KIND   ${TOKEN_VERIFIERS.join(' or ')} (default ${SERVE_DEFAULTS['token-verifier']}): verify workload tokens against the cluster's
                          service account issuer keys, or ask the API server (TokenReview) for each one
  --require-bound-pod     refuse tokens not bound to a pod, and tokens whose pod no longer exists`;

const str = { type: 'string' } as const;
const OPTIONS = {
  local: { type: 'boolean' },
  'data-dir': str, 'trust-domain': str, 'webhook-port': str, 'ca-port': str, 'monitoring-port': str,
  'workload-cert-ttl': str, 'max-workload-cert-ttl': str, 'bundle-propagation-delay': str,
  kubeconfig: str, 'token-verifier': str, 'require-bound-pod': { type: 'boolean' },
} as const;

export async function serveCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, OPTIONS, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = parseServeConfig(values);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logger = createLogger();
  const cp = await startControlPlane({ ...config, logger });
  io.stdout(`meshid ready: ca=${cp.caUrl}/v1/certificates webhook=${cp.webhookUrl}/inject monitoring=${cp.monitoringUrl}/metrics trust-bundle=${cp.trustBundle}\n`);
  logger.info({ ca: cp.caUrl, webhook: cp.webhookUrl, monitoring: cp.monitoringUrl, listen: cp.host, trustBundle: cp.trustBundle, local: config.local }, 'control plane ready');
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

import { parseServeConfig, SERVE_DEFAULTS } from '../controlplane/config.js';
import { startControlPlane } from '../controlplane/start.js';
import { createLogger } from '../common/log.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid serve [--local] [--data-dir DIR] [--trust-domain TD] [--webhook-port N] [--ca-port N]
                    [--monitoring-port N] [--workload-cert-ttl 24h] [--max-workload-cert-ttl 7d]
                    [--bundle-propagation-delay 5m]
  Runs the control plane: CA API (${SERVE_DEFAULTS['ca-port']}), injection webhook (${SERVE_DEFAULTS['webhook-port']}), metrics and health (${SERVE_DEFAULTS['monitoring-port']}).
  --local keeps the CA material and the token issuer in DIR (default ${SERVE_DEFAULTS['data-dir']}); no cluster needed.`;

const str = { type: 'string' } as const;
const OPTIONS = {
  local: { type: 'boolean' },
  'data-dir': str, 'trust-domain': str, 'webhook-port': str, 'ca-port': str, 'monitoring-port': str,
  'workload-cert-ttl': str, 'max-workload-cert-ttl': str, 'bundle-propagation-delay': str,
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
  io.stdout(`meshid ready: ca=${cp.caUrl}/v1/certificates webhook=${cp.webhookUrl}/inject monitoring=${cp.monitoringUrl}/metrics trust-bundle=${cp.trustBundlePath}\n`);
  logger.info({ ca: cp.caUrl, webhook: cp.webhookUrl, monitoring: cp.monitoringUrl, dataDir: cp.dataDir, local: config.local }, 'control plane ready');
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

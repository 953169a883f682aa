import { PROXY_IMAGE_ENV } from '../common/image.js';
import { parseServeConfig } from '../controlplane/config.js';
import { startControlPlane } from '../controlplane/start.js';
import { createLogger } from '../common/log.js';
import { resolveLogOptions } from '../common/log-options.js';
import { parseTable, UsageError } from './flags.js';
import type { Io } from './run.js';
import { SERVE_FLAGS, SERVE_USAGE } from './serve-flags.js';

export async function serveCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const values = parseTable(argv, SERVE_FLAGS, 'serve');
  if (values.help) {
    io.stdout(`${SERVE_USAGE}\n`);
    return 0;
  }
  let config;
  let log;
  try {
    // The flag wins over the environment, which the install sets from the Deployment's own image.
    config = parseServeConfig({ ...values, 'proxy-image': values['proxy-image'] ?? env[PROXY_IMAGE_ENV] });
    log = resolveLogOptions(values, env, process.stderr.isTTY === true);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logger = createLogger(log);
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

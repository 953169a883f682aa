import { checkDataDir } from '../common/data-dir.js';
import { parseDuration } from '../common/duration.js';
import { mintLocalToken } from '../ca/auth/local-issuer.js';
import { SERVE_DEFAULTS } from '../controlplane/config.js';
import { validateNamespace, validateServiceAccount } from '../pki/spiffe.js';
import { parseTable, UsageError } from './flags.js';
import type { Io } from './run.js';
import { TOKEN_FLAGS, TOKEN_USAGE } from './token-flags.js';

export async function tokenCommand(argv: string[], io: Io): Promise<number> {
  const values = parseTable(argv, TOKEN_FLAGS, 'token');
  if (values.help) {
    io.stdout(`${TOKEN_USAGE}\n`);
    return 0;
  }
  if (!values.namespace || !values['service-account']) throw new UsageError('--namespace and --service-account are required (see meshid token --help)');
  let ttlMs: number;
  try {
    validateNamespace(values.namespace);
    validateServiceAccount(values['service-account']);
    ttlMs = parseDuration(values.ttl ?? '1h', '--ttl');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (ttlMs < 1000) throw new UsageError('--ttl must be at least 1s');
  const dataDir = values['data-dir'] ?? SERVE_DEFAULTS['data-dir'];
  await checkDataDir(dataDir);
  const token = await mintLocalToken({
    dataDir,
    namespace: values.namespace,
    serviceAccount: values['service-account'],
    audience: values.audience,
    ttlSeconds: Math.floor(ttlMs / 1000),
  });
  io.stdout(`${token}\n`);
  return 0;
}

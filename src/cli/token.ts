import { parseDuration } from '../common/duration.js';
import { mintLocalToken } from '../ca/auth/local-issuer.js';
import { CA_AUDIENCE, ISTIO_CA_AUDIENCE } from '../ca/auth/verifier.js';
import { validateNamespace, validateServiceAccount } from '../pki/spiffe.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid token --namespace NS --service-account SA [--audience ${CA_AUDIENCE}] [--ttl 1h] [--data-dir ./.meshid]
  Prints a ServiceAccount-shaped token signed by the local issuer (local mode only).
  --audience ${ISTIO_CA_AUDIENCE} mints the token istio-agent sends to the Istio CA API (which accepts both).`;

const str = { type: 'string' } as const;

export async function tokenCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { namespace: str, 'service-account': str, audience: str, ttl: str, 'data-dir': str }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!values.namespace || !values['service-account']) throw new UsageError(`--namespace and --service-account are required\n${USAGE}`);
  let ttlMs: number;
  try {
    validateNamespace(values.namespace);
    validateServiceAccount(values['service-account']);
    ttlMs = parseDuration(values.ttl ?? '1h', '--ttl');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (ttlMs < 1000) throw new UsageError('--ttl must be at least 1s');
  const token = await mintLocalToken({
    dataDir: values['data-dir'] ?? './.meshid',
    namespace: values.namespace,
    serviceAccount: values['service-account'],
    audience: values.audience,
    ttlSeconds: Math.floor(ttlMs / 1000),
  });
  io.stdout(`${token}\n`);
  return 0;
}

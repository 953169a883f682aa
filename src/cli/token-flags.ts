import { CA_AUDIENCE } from '../ca/auth/verifier.js';
import { SERVE_DEFAULTS } from '../controlplane/config.js';
import { flagHelp, type FlagTable } from './flags.js';

export const TOKEN_FLAGS = {
  namespace: { type: 'string', arg: 'NS', help: 'the token\'s namespace (required)' },
  'service-account': { type: 'string', arg: 'SA', help: 'the token\'s service account (required)' },
  audience: { type: 'string', arg: 'A', help: `the token's audience (default ${CA_AUDIENCE})` },
  ttl: { type: 'string', arg: 'DURATION', help: 'how long the token is valid (default 1h, at least 1s)' },
  'data-dir': { type: 'string', arg: 'DIR', path: true, help: `the data directory of "meshid serve --local" (default ${SERVE_DEFAULTS['data-dir']})` },
} as const satisfies FlagTable;

export const TOKEN_USAGE = `usage: meshid token --namespace NS --service-account SA [flags]

Prints a ServiceAccount-shaped token signed by the local issuer (local mode only).

${flagHelp(TOKEN_FLAGS)}`;

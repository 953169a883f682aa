import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Paths that could carry a secret are censored even if a caller logs a whole object by mistake. */
const REDACT = [
  'key', '*.key', 'privateKey', '*.privateKey', 'token', '*.token', 'csr', '*.csr',
  'authorization', '*.authorization', 'req.headers.authorization', 'headers.authorization',
];

export function createLogger(opts: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? (process.env.MESHID_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  return pino(
    { name: opts.name ?? 'meshid', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    opts.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });

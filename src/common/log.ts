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

/**
 * For lines whose fields are set one by one from values that are never secret (the CA's audit
 * line): the same censored names at the top level, but no `*.` wildcards, which walk every field
 * of every line and cost more than the rest of writing it.
 */
export function fieldByFieldLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: REDACT.filter((p) => !p.startsWith('*.')), censor: '[redacted]' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });

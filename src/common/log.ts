import { pino, type Logger, type LevelWithSilent } from 'pino';
import { DEFAULT_LOG_LEVEL, type LogFormat } from './log-options.js';
import { textDestination } from './log-text.js';

export type { Logger };

/** Paths that could carry a secret are censored even if a caller logs a whole object by mistake. */
const REDACT = [
  'key', '*.key', 'privateKey', '*.privateKey', 'token', '*.token', 'csr', '*.csr',
  'authorization', '*.authorization', 'req.headers.authorization', 'headers.authorization',
];

/** Level and format are the caller's (resolveLogOptions validates what the operator gave); JSON by default. */
export function createLogger(opts: { level?: LevelWithSilent; format?: LogFormat; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.destination ?? pino.destination({ dest: 2, sync: false });
  return pino(
    { name: opts.name ?? 'meshid', level: opts.level ?? DEFAULT_LOG_LEVEL, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    opts.format === 'text' ? textDestination(out) : out,
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

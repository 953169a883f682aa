/** pino's levels, most to least severe, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVEL_ENV = 'MESHID_LOG_LEVEL';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
}

/**
 * The flag wins over the environment. JSON unless a person is watching: a terminal gets one readable
 * line per record, a pipe or a log collector gets records it can parse.
 */
export function resolveLogOptions(flags: { 'log-level'?: string; 'log-format'?: string }, env: NodeJS.ProcessEnv, isTty: boolean): LogOptions {
  const fromFlag = flags['log-level'] !== undefined;
  const level = flags['log-level'] ?? env[LOG_LEVEL_ENV] ?? DEFAULT_LOG_LEVEL;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`${fromFlag ? '--log-level' : LOG_LEVEL_ENV} "${level.slice(0, 32)}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  const format = flags['log-format'] ?? (isTty ? 'text' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`--log-format "${format.slice(0, 32)}" is not a log format; use ${LOG_FORMATS.join(' or ')}`);
  }
  return { level: level as LogLevel, format: format as LogFormat };
}

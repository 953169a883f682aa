import { DEFAULT_LOG_LEVEL, LOG_FORMATS, LOG_LEVEL_ENV, LOG_LEVELS } from '../common/log-options.js';
import type { FlagTable } from './flags.js';

/** The logging flags of every long-running command. */
export const LOG_FLAGS = {
  'log-level': { type: 'string', arg: 'LEVEL', choices: LOG_LEVELS, help: `${LOG_LEVELS.join('|')} (env ${LOG_LEVEL_ENV}, default ${DEFAULT_LOG_LEVEL})` },
  'log-format': { type: 'string', arg: 'FORMAT', choices: LOG_FORMATS, help: `${LOG_FORMATS.join('|')}: one readable line per record, or JSON (default: text on a terminal, else json)` },
} as const satisfies FlagTable;

import { stringify } from 'yaml';
import { UsageError, type FlagDef } from './flags.js';

export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o` of every command that describes something: the same report, for a person or for a script. */
export const OUTPUT_FLAG = {
  output: { type: 'string', short: 'o', arg: 'FORMAT', choices: OUTPUT_FORMATS, help: `${OUTPUT_FORMATS.join('|')} (default text); json and yaml have stable field names (README, "Output for scripts")` },
} as const satisfies Record<string, FlagDef>;

export function outputFormat(value: string | undefined): OutputFormat {
  const format = value ?? 'text';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`-o "${format.slice(0, 32)}" is not an output format; use ${OUTPUT_FORMATS.join(', ')}`);
  return format as OutputFormat;
}

export function render(report: object, format: OutputFormat, text: () => string): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'yaml') return stringify(report);
  return text();
}

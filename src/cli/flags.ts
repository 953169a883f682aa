import { parseArgs } from 'node:util';
import { closest } from './did-you-mean.js';

/**
 * One flag, described once: the parser, `--help` and shell completion all read this, so a command's flags
 * cannot drift apart between them.
 */
export interface FlagDef {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help, e.g. DIR; string flags only. */
  arg?: string;
  /** One line (continuation lines after \n) for --help. */
  help: string;
  /** The values a shell may complete, when the flag takes one of a few words. */
  choices?: readonly string[];
  /** The value is a path: completion offers files. */
  path?: boolean;
}

export type FlagTable = Record<string, FlagDef>;

/** Every command's --help, added to each table. */
export const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'this text' } } as const satisfies FlagTable;

export type FlagValues<T extends FlagTable> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
} & { help?: boolean };

/** Thrown for a wrong command line: main prints the one-line reason and exits 2. */
export class UsageError extends Error {}

/**
 * parseArgs over a table, with every mistake said in one line that names the flag and what to do.
 * `command` is how the user typed it (e.g. "ca status"), for the pointer to its --help.
 */
export function parseTable<T extends FlagTable>(argv: string[], table: T, command: string): FlagValues<T> {
  const all: FlagTable = { ...table, ...HELP_FLAG };
  checkUnknown(argv, all, command);
  const options = Object.fromEntries(Object.entries(all).map(([name, d]) => [name, d.short ? { type: d.type, short: d.short } : { type: d.type }]));
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: joinDashValues(argv, all), options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(reword((err as Error).message, command));
  }
  return values as FlagValues<T>;
}

/** The names a user may type for the table's flags: --name and -s. */
function spellings(table: FlagTable): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, d] of Object.entries(table)) {
    names.set(`--${name}`, name);
    if (d.short) names.set(`-${d.short}`, name);
  }
  return names;
}

function checkUnknown(argv: string[], table: FlagTable, command: string): void {
  const names = spellings(table);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg;
    if (!flag.startsWith('-') || flag === '-') {
      throw new UsageError(`unexpected argument "${arg.slice(0, 40)}" (meshid ${command} takes only flags; see meshid ${command} --help)`);
    }
    const name = names.get(flag);
    if (name === undefined) {
      const near = closest(flag, [...names.keys()].filter((n) => n.startsWith('--')));
      const hint = near ? `; did you mean ${near}?` : '';
      throw new UsageError(`unknown flag ${flag.slice(0, 40)}${hint} (see meshid ${command} --help)`);
    }
    if (table[name]!.type === 'string' && !arg.includes('=')) i++;
  }
}

/**
 * `--ttl -5m` means the value -5m, not a flag: parseArgs refuses it as ambiguous, which hides the real
 * mistake (a negative duration) that the value's own check then names.
 */
function joinDashValues(argv: string[], table: FlagTable): string[] {
  const names = spellings(table);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = names.get(arg);
    if (name !== undefined && table[name]!.type === 'string' && next !== undefined && next.startsWith('-') && next !== '-'
      && !names.has(next.split('=')[0]!)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function reword(message: string, command: string): string {
  const first = message.split('\n')[0]!;
  const missing = /^Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(first)
    ?? /^Option '(-\w, )?(--[\w-]+) <value>' argument is ambiguous/.exec(first);
  if (missing) return `${missing[2]} needs a value (see meshid ${command} --help)`;
  const noValue = /^Option '(--[\w-]+)' does not take an argument/.exec(first);
  if (noValue) return `${noValue[1]} takes no value (see meshid ${command} --help)`;
  return `${first} (see meshid ${command} --help)`;
}

const HELP_COLUMN = 27;

/** The flag lines of a --help text, aligned, from the table. */
export function flagHelp(table: FlagTable): string {
  const rows = Object.entries<FlagDef>({ ...table, ...HELP_FLAG }).map(([name, d]) => {
    const left = `${d.short ? `-${d.short}, ` : ''}--${name}${d.arg ? ` ${d.arg}` : ''}`;
    return [left, d.help.split('\n')] as const;
  });
  // A flag longer than the column puts its help on the next line rather than pushing every row right.
  const width = Math.min(HELP_COLUMN, Math.max(...rows.map(([left]) => left.length)) + 2);
  return rows.map(([left, lines]) => {
    const head = left.length + 2 > width ? [`  ${left}`, ...lines.map((l) => `  ${''.padEnd(width)}${l}`)]
      : [`  ${left.padEnd(width)}${lines[0]}`, ...lines.slice(1).map((l) => `  ${''.padEnd(width)}${l}`)];
    return head.join('\n');
  }).join('\n');
}

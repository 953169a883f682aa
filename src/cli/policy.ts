import { readFile, stat } from 'node:fs/promises';
import { checkPolicyYaml, MAX_POLICY_YAML_BYTES } from '../policy/check-yaml.js';
import { parseTable, UsageError } from './flags.js';
import { POLICY_SUBCOMMANDS, POLICY_USAGE as USAGE } from './policy-flags.js';
import type { Io } from './run.js';
import { readStdinCapped } from './read-stdin.js';


export async function policyCommand(argv: string[], io: Io, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    io.stdout(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  if (sub !== 'check') throw new UsageError(`unknown subcommand "${sub.slice(0, 40)}"; the one there is: check (see meshid policy --help)`);
  const values = parseTable(rest, POLICY_SUBCOMMANDS.check.flags, 'policy check');
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!values.filename) throw new UsageError('check: -f FILE or -f - (stdin) is required (see meshid policy check --help)');
  const source = values.filename === '-' ? 'stdin' : values.filename;
  const report = checkPolicyYaml(values.filename === '-' ? await readStdinCapped(stdin, MAX_POLICY_YAML_BYTES) : await readSmallFile(values.filename));
  for (const line of report.lines) io.stdout(`${line}\n`);
  if (!report.problems) return 0;
  io.stderr(`meshid policy check: ${report.problems} problem${report.problems === 1 ? '' : 's'} in ${source}\n`);
  return 1;
}

/** Refused before reading, so a huge file costs nothing. */
async function readSmallFile(path: string): Promise<string> {
  const { size } = await stat(path);
  if (size > MAX_POLICY_YAML_BYTES) throw new Error(`${path} is ${size} bytes; at most ${MAX_POLICY_YAML_BYTES} are read`);
  return readFile(path, 'utf8');
}

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic-write.js';
import { injectorConfig } from '../injector/config.js';
import { injectYaml, MAX_YAML_BYTES } from '../injector/offline.js';
import { parseTable, UsageError } from './flags.js';
import { INJECT_FLAGS, INJECT_USAGE } from './inject-flags.js';
import type { Io } from './run.js';
import { readStdinCapped } from './read-stdin.js';

export async function injectCommand(argv: string[], io: Io, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const values = parseTable(argv, INJECT_FLAGS, 'inject');
  if (values.help) {
    io.stdout(`${INJECT_USAGE}\n`);
    return 0;
  }
  if (!values.filename) throw new UsageError('-f FILE or -f - (stdin) is required (see meshid inject --help)');
  const text = values.filename === '-' ? await readStdinCapped(stdin, MAX_YAML_BYTES) : await readFile(values.filename, 'utf8');
  const result = injectYaml(text, injectorConfig());
  for (const s of result.skipped) io.stderr(`meshid inject: skipped ${s.where}: ${s.reason}\n`);
  if (values.output) await writeFileAtomic(values.output, result.yaml);
  else io.stdout(result.yaml);
  return 0;
}

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic-write.js';
import { injectorConfig } from '../injector/config.js';
import { injectYaml, MAX_YAML_BYTES } from '../injector/offline.js';
import { parseTable, UsageError } from './flags.js';
import { INJECT_FLAGS, INJECT_USAGE } from './inject-flags.js';
import type { Io } from './run.js';

export async function injectCommand(argv: string[], io: Io, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const values = parseTable(argv, INJECT_FLAGS, 'inject');
  if (values.help) {
    io.stdout(`${INJECT_USAGE}\n`);
    return 0;
  }
  if (!values.filename) throw new UsageError('-f FILE or -f - (stdin) is required (see meshid inject --help)');
  const text = values.filename === '-' ? await readStream(stdin) : await readFile(values.filename, 'utf8');
  const result = injectYaml(text, injectorConfig());
  for (const s of result.skipped) io.stderr(`meshid inject: skipped ${s.where}: ${s.reason}\n`);
  if (values.output) await writeFileAtomic(values.output, result.yaml);
  else io.stdout(result.yaml);
  return 0;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buf.length;
    if (size > MAX_YAML_BYTES) throw new Error(`stdin is larger than ${MAX_YAML_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_DEFAULTS } from '../agent/config.js';
import { CERT_CHAIN_FILE, ROOT_CERT_FILE } from '../agent/files.js';
import { formatSvidReport, svidReport } from '../agent/svid-report.js';
import { closest } from './did-you-mean.js';
import { parseTable, UsageError } from './flags.js';
import { outputFormat, render } from './output.js';
import type { Io } from './run.js';
import { SVID_SUBCOMMANDS, SVID_USAGE } from './svid-flags.js';

export async function svidCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    (sub ? io.stdout : io.stderr)(`${SVID_USAGE}\n`);
    return sub ? 0 : 2;
  }
  if (sub !== 'show') {
    const near = closest(sub, Object.keys(SVID_SUBCOMMANDS));
    throw new UsageError(`unknown subcommand "${sub.slice(0, 40)}"${near ? `; did you mean ${near}?` : ''} (see meshid svid --help)`);
  }
  const v = parseTable(rest, SVID_SUBCOMMANDS.show.flags, 'svid show');
  if (v.help) {
    io.stdout(`${SVID_USAGE}\n`);
    return 0;
  }
  const format = outputFormat(v.output);
  if (v['out-dir'] !== undefined && v['sds-socket'] !== undefined) throw new UsageError('--out-dir and --sds-socket exclude each other: the SVID is read from one place');
  const { source, chainPem, bundlePem } = v['out-dir'] !== undefined ? await fromFiles(v['out-dir']) : await fromSds(v['sds-socket'] ?? AGENT_DEFAULTS.sdsSocket);
  const now = Date.now();
  const report = svidReport(source, chainPem, bundlePem, now);
  io.stdout(render(report, format, () => formatSvidReport(report, now)));
  return 0;
}

async function fromFiles(dir: string) {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `no ${name} in ${dir}: is it the --out-dir of a running "meshid agent"?` : `cannot read ${join(dir, name)}: ${code === 'EACCES' ? 'permission denied' : code}`);
    }
  };
  return { source: `out-dir ${dir}`, chainPem: await read(CERT_CHAIN_FILE), bundlePem: await read(ROOT_CERT_FILE) };
}

async function fromSds(socket: string) {
  const { fetchFromSds } = await import('../agent/sds-client.js');
  return { source: `sds-socket ${socket}`, ...(await fetchFromSds(socket)) };
}

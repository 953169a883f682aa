import { randomBytes } from 'node:crypto';
import { FileCaStore } from '../ca/file-store.js';
import { loadCaMaterial } from '../ca/material.js';
import { rotateRoot } from '../ca/rotation/operator.js';
import { caStatusRows, formatRotationStatus, formatTable, rotationStatus } from '../ca/status.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid ca status [--data-dir DIR]
       meshid ca rotate-root [--wait] [--data-dir DIR]
  status: the trusted roots, the signing CA, the rotation phase and expiries.
  rotate-root: start a staged root rotation (or report the one in progress); --wait follows it to the end.`;

export async function caCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'status') return statusCommand(rest, io);
  if (sub === 'rotate-root') return rotateRootCommand(rest, io);
  if (!sub || sub === '--help' || sub === '-h') {
    io.stdout(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  throw new UsageError(`unknown subcommand "${sub.slice(0, 40)}"\n${USAGE}`);
}

async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { 'data-dir': { type: 'string' } }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const store = new FileCaStore(values['data-dir'] ?? './.meshid');
  const stored = await store.read();
  if (!stored) throw new Error(`no CA material in ${store.describe()}; start "meshid serve --local --data-dir ${store.describe()}" first`);
  const material = loadCaMaterial(stored.files, Date.now());
  io.stdout(formatTable(caStatusRows(material, Date.now()).map((r) => ({ ...r }))));
  io.stdout(`${formatRotationStatus(rotationStatus(stored.files), Date.now())}\n`);
  return 0;
}

/** Local mode works on the data directory a running `meshid serve --local` watches; cluster mode will pass the Secret store. */
async function rotateRootCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { wait: { type: 'boolean' }, 'data-dir': { type: 'string' } }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const store = new FileCaStore(values['data-dir'] ?? './.meshid');
  await rotateRoot({ store, wait: values.wait ?? false, now: Date.now, random: randomBytes, print: (line) => io.stdout(`${line}\n`) });
  return 0;
}

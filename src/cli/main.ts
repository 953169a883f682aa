#!/usr/bin/env node
import { COMMANDS, mainUsage } from './commands.js';
import { closest } from './did-you-mean.js';
import { processIo, UsageError, type Io } from './run.js';

async function main(argv: string[], io: Io = processIo): Promise<number> {
  let [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) [name, rest] = [rest[0], [...rest.slice(1), '--help']];
  if (name === '--version' || name === '-v') [name, rest] = ['version', rest];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr)(`${mainUsage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    const near = closest(name, Object.keys(COMMANDS));
    io.stderr(`meshid: unknown command "${name.slice(0, 40)}"${near ? `; did you mean ${near}?` : ''} (see meshid --help)\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`meshid ${name}: ${err.message}\n`);
      return 2;
    }
    io.stderr(`meshid ${name}: ${(err as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;

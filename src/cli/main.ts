#!/usr/bin/env node
import { runAgentCommand } from './agent.js';
import { caCommand } from './ca.js';
import { injectCommand } from './inject.js';
import { iptablesCommand } from './iptables.js';
import { processIo, UsageError, type Io } from './run.js';
import { serveCommand } from './serve.js';
import { tokenCommand } from './token.js';

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  serve: serveCommand,
  token: tokenCommand,
  ca: caCommand,
  agent: (argv) => runAgentCommand(argv),
  inject: (argv, io) => injectCommand(argv, io),
  iptables: iptablesCommand,
};

const USAGE = `usage: meshid <command> [flags]
commands:
  serve      the control plane: CA, injection webhook, bundle publisher, rotation driver
  token      local mode: mint a ServiceAccount-shaped token
  agent      the workload agent: identity, SDS, rotation
  inject     offline sidecar injection of Kubernetes YAML
  iptables   apply the traffic redirection rules (init container)
  ca         status | rotate-root: the operator's view of the CA
run "meshid <command> --help" for its flags`;

async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`meshid: unknown command "${name.slice(0, 40)}"\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command(rest, io);
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

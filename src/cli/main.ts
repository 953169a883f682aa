#!/usr/bin/env node
import { processIo, UsageError, type Io } from './run.js';

// Each command's modules load only when it runs: the sidecar and init container start in a fraction of the
// time it takes to load the control plane's dependencies (fastify, the Kubernetes client).
const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  serve: async (argv, io) => (await import('./serve.js')).serveCommand(argv, io),
  token: async (argv, io) => (await import('./token.js')).tokenCommand(argv, io),
  ca: async (argv, io) => (await import('./ca.js')).caCommand(argv, io),
  agent: async (argv) => (await import('./agent.js')).runAgentCommand(argv),
  inject: async (argv, io) => (await import('./inject.js')).injectCommand(argv, io),
  iptables: async (argv, io) => (await import('./iptables.js')).iptablesCommand(argv, io),
  policy: async (argv, io) => (await import('./policy.js')).policyCommand(argv, io),
  describe: async (argv, io) => (await import('./describe.js')).describeCommand(argv, io),
};

const USAGE = `usage: meshid <command> [flags]
commands:
  serve      the control plane: CA, injection webhook, bundle publisher, rotation driver
  token      local mode: mint a ServiceAccount-shaped token
  agent      the workload agent: identity, SDS, rotation
  inject     offline sidecar injection of Kubernetes YAML
  iptables   apply the traffic redirection rules (init container)
  ca         status | rotate-root: the operator's view of the CA
  policy     check: validate PeerAuthentication and AuthorizationPolicy YAML offline
  describe   pod NS/NAME: what that pod's sidecar is told (cluster)
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

import type { FlagTable } from './flags.js';
import type { Io } from './run.js';

export interface CommandEntry {
  summary: string;
  run: (argv: string[], io: Io) => Promise<number>;
  /** The flag tables, for completion: one for a command, or one per subcommand. Loaded only when asked. */
  flags: () => Promise<FlagTable | Record<string, { summary: string; flags: FlagTable }>>;
  subcommands?: boolean;
}

// Each command's modules load only when it runs: the sidecar and init container start in a fraction of the
// time it takes to load the control plane's dependencies (fastify, the Kubernetes client). A new command
// is one entry here; help, did-you-mean and completion follow from it.
export const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: 'the control plane: CA, injection webhook, bundle publisher, rotation driver',
    run: async (argv, io) => (await import('./serve.js')).serveCommand(argv, io),
    flags: async () => (await import('./serve-flags.js')).SERVE_FLAGS,
  },
  token: {
    summary: 'local mode: mint a ServiceAccount-shaped token',
    run: async (argv, io) => (await import('./token.js')).tokenCommand(argv, io),
    flags: async () => (await import('./token-flags.js')).TOKEN_FLAGS,
  },
  agent: {
    summary: 'the workload agent: identity, SDS, rotation',
    run: async (argv) => (await import('./agent.js')).runAgentCommand(argv),
    flags: async () => (await import('./agent-flags.js')).AGENT_FLAGS,
  },
  inject: {
    summary: 'offline sidecar injection of Kubernetes YAML',
    run: async (argv, io) => (await import('./inject.js')).injectCommand(argv, io),
    flags: async () => (await import('./inject-flags.js')).INJECT_FLAGS,
  },
  iptables: {
    summary: 'apply the traffic redirection rules (init container)',
    run: async (argv, io) => (await import('./iptables.js')).iptablesCommand(argv, io),
    flags: async () => (await import('./iptables-flags.js')).IPTABLES_COMMAND_FLAGS,
  },
  ca: {
    summary: 'status | rotate-root: the operator\'s view of the CA',
    run: async (argv, io) => (await import('./ca.js')).caCommand(argv, io),
    flags: async () => (await import('./ca-flags.js')).CA_SUBCOMMANDS,
    subcommands: true,
  },
  policy: {
    summary: 'check: validate PeerAuthentication and AuthorizationPolicy YAML offline',
    run: async (argv, io) => (await import('./policy.js')).policyCommand(argv, io),
    flags: async () => (await import('./policy-flags.js')).POLICY_SUBCOMMANDS,
    subcommands: true,
  },
  describe: {
    summary: 'pod NS/NAME: what that pod\'s sidecar is told (cluster)',
    run: async (argv, io) => (await import('./describe.js')).describeCommand(argv, io),
    flags: async () => (await import('./describe-flags.js')).DESCRIBE_SUBCOMMANDS,
    subcommands: true,
  },
  svid: {
    summary: 'show: the SVID an agent holds, from its files or its SDS socket',
    run: async (argv, io) => (await import('./svid.js')).svidCommand(argv, io),
    flags: async () => (await import('./svid-flags.js')).SVID_SUBCOMMANDS,
    subcommands: true,
  },
  version: {
    summary: 'the CLI\'s and Node\'s versions (with --cluster, the control plane\'s too)',
    run: async (argv, io) => (await import('./version.js')).versionCommand(argv, io),
    flags: async () => (await import('./version-flags.js')).VERSION_FLAGS,
  },
  completion: {
    summary: 'bash | zsh: print a shell completion script',
    run: async (argv, io) => (await import('./completion.js')).completionCommand(argv, io, COMMANDS),
    flags: async () => ({}),
  },
};

export function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 3;
  return `usage: meshid <command> [flags]
commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}help CMD is CMD --help
run "meshid <command> --help" for its flags; "meshid --version" prints the version`;
}

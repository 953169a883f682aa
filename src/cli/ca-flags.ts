import { SERVE_DEFAULTS } from '../controlplane/config.js';
import { flagHelp, type FlagTable } from './flags.js';
import { OUTPUT_FLAG } from './output.js';

/** Where the CA is: a data directory, or the cluster. */
const STORE_FLAGS = {
  'data-dir': { type: 'string', arg: 'DIR', path: true, help: `the data directory of "meshid serve --local" (default ${SERVE_DEFAULTS['data-dir']})` },
  cluster: { type: 'boolean', help: 'work through the Kubernetes API on Secret meshid-ca (or the operator\'s cacerts)' },
  kubeconfig: { type: 'string', arg: 'FILE', path: true, help: 'with --cluster: the cluster (default: in-cluster config, $KUBECONFIG or ~/.kube/config)' },
  namespace: { type: 'string', arg: 'NS', help: 'with --cluster: the control plane namespace (default $POD_NAMESPACE, else meshid-system)' },
} as const satisfies FlagTable;

export const CA_SUBCOMMANDS = {
  status: { summary: 'the trusted roots, the signing CA, the rotation phase and expiries', flags: { ...STORE_FLAGS, ...OUTPUT_FLAG } },
  'rotate-root': {
    summary: 'start a staged root rotation (or report the one in progress)',
    flags: { wait: { type: 'boolean', help: 'follow the rotation to its end (with --cluster, with how many namespaces hold the new bundle)' }, ...STORE_FLAGS },
  },
} as const satisfies Record<string, { summary: string; flags: FlagTable }>;

export type CaSubcommand = keyof typeof CA_SUBCOMMANDS;

export const CA_USAGE = `usage: meshid ca status|rotate-root [flags]

${Object.entries(CA_SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(12)}${s.summary}`).join('\n')}
Local mode (default) works on the data directory of a running "meshid serve --local", which picks the
change up without a restart. Run "meshid ca SUBCOMMAND --help" for its flags.`;

export function caSubcommandUsage(sub: CaSubcommand): string {
  return `usage: meshid ca ${sub} [flags]\n\n${CA_SUBCOMMANDS[sub].summary}.\n\n${flagHelp(CA_SUBCOMMANDS[sub].flags)}`;
}

import { flagHelp, type FlagTable } from './flags.js';

export const POLICY_SUBCOMMANDS = {
  check: {
    summary: 'validate PeerAuthentication and AuthorizationPolicy YAML offline, with the control plane\'s validator',
    flags: {
      filename: { type: 'string', short: 'f', arg: 'FILE|-', path: true, help: 'the multi-document YAML to check; - reads stdin' },
    },
  },
} as const satisfies Record<string, { summary: string; flags: FlagTable }>;

export const POLICY_USAGE = `usage: meshid policy check -f FILE|-

Validates the PeerAuthentication and AuthorizationPolicy objects (security.meshid.io/v1) of a multi-document
YAML file offline, with the validator the control plane uses. Prints "ok  Kind ns/name" per valid object and
one line per problem, naming the document and the field; other kinds are reported as ignored.
Exit status 0 when every policy object is valid, 1 otherwise.

${flagHelp(POLICY_SUBCOMMANDS.check.flags)}`;

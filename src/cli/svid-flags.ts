import { AGENT_DEFAULTS } from '../agent/config.js';
import type { FlagTable } from './flags.js';
import { flagHelp } from './flags.js';
import { OUTPUT_FLAG } from './output.js';

export const SVID_SUBCOMMANDS = {
  show: {
    summary: 'the SVID an agent holds: SPIFFE ID, serial, validity, renewal, the root it chains to, the bundle',
    flags: {
      'out-dir': { type: 'string', arg: 'DIR', path: true, help: 'read the files "meshid agent --out-dir DIR" writes' },
      'sds-socket': { type: 'string', arg: 'PATH', path: true, help: `ask the agent's SDS socket as Envoy does (default ${AGENT_DEFAULTS.sdsSocket})` },
      ...OUTPUT_FLAG,
    },
  },
} as const satisfies Record<string, { summary: string; flags: FlagTable }>;

export const SVID_USAGE = `usage: meshid svid show [--out-dir DIR | --sds-socket PATH] [-o text|json|yaml]

${SVID_SUBCOMMANDS.show.summary}.
In a pod: kubectl exec POD -c meshid-proxy -- meshid svid show

${flagHelp(SVID_SUBCOMMANDS.show.flags)}`;

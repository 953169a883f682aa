import { IPTABLES_FLAGS } from '../iptables/args.js';
import { DEFAULT_IPTABLES_BACKEND, IPTABLES_BACKENDS } from '../iptables/backend.js';
import { ALWAYS_EXCLUDED_INBOUND } from '../iptables/rules.js';
import { flagHelp, type FlagTable } from './flags.js';

export const IPTABLES_COMMAND_FLAGS = {
  'dry-run': { type: 'boolean', help: 'print the iptables-restore input instead of applying it' },
  ipv6: { type: 'boolean', help: 'redirect IPv6 even without an address, failing if the kernel cannot' },
  'iptables-backend': {
    type: 'string', arg: 'KIND', choices: IPTABLES_BACKENDS,
    help: `nft (default ${DEFAULT_IPTABLES_BACKEND}), legacy, or auto (nft unless the kernel lacks nf_tables); works on a\nread-only root filesystem: legacy's lock goes to /dev/shm if /run is not writable`,
  },
  ...IPTABLES_FLAGS,
} as const satisfies FlagTable;

export const IPTABLES_USAGE = `usage: meshid iptables [flags]

Sets up the pod's traffic redirection to the proxy (run by the meshid-init container, needs NET_ADMIN).
Ports ${ALWAYS_EXCLUDED_INBOUND.join(', ')} are never redirected inbound; the proxy's uid is never redirected outbound.
IPv6 is redirected with ip6tables whenever the pod has an IPv6 address other than loopback and link-local.

${flagHelp(IPTABLES_COMMAND_FLAGS)}`;

import { tmpdir } from 'node:os';
import { PORTS, PROXY_UID } from '../common/pod-contract.js';
import { applyRules, nftUsable, readIfInet6, writableDir } from '../iptables/apply.js';
import { IPTABLES_FLAGS, redirectSpecFromFlags } from '../iptables/args.js';
import { chooseLockFile, DEFAULT_IPTABLES_BACKEND, IPTABLES_BACKENDS, parseBackend, type ConcreteBackend } from '../iptables/backend.js';
import { familiesToRedirect, hasRoutableIpv6 } from '../iptables/families.js';
import { ALWAYS_EXCLUDED_INBOUND, buildRules } from '../iptables/rules.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid iptables [--dry-run] [--ipv6] [--iptables-backend ${IPTABLES_BACKENDS.join('|')}] [--proxy-uid ${PROXY_UID}]
    [--inbound-port ${PORTS.inbound}] [--outbound-port ${PORTS.outbound}] [--include-inbound-ports *|P,..] [--exclude-inbound-ports P,..]
    [--include-outbound-ports P,..] [--exclude-outbound-ports P,..] [--include-outbound-ip-ranges *|CIDR,..]
    [--exclude-outbound-ip-ranges CIDR,..]
  Sets up the pod's traffic redirection to the proxy (run by the meshid-init container, needs NET_ADMIN).
  Ports ${ALWAYS_EXCLUDED_INBOUND.join(', ')} are never redirected inbound; the proxy's uid is never redirected outbound.
  IPv6 is redirected with ip6tables whenever the pod has an IPv6 address other than loopback and link-local;
  --ipv6 requires it (redirected even without an address; failing if the kernel cannot).
  --iptables-backend      nft (default ${DEFAULT_IPTABLES_BACKEND}), legacy, or auto (nft unless the kernel lacks nf_tables). Works
                          on a read-only root filesystem: legacy's lock goes to /dev/shm if /run is not writable.
  --dry-run prints the iptables-restore input instead of applying it.`;

export async function iptablesCommand(argv: string[], io: Io): Promise<number> {
  const options = { ...IPTABLES_FLAGS, 'dry-run': { type: 'boolean' }, ipv6: { type: 'boolean' }, 'iptables-backend': { type: 'string' } } as const;
  const { values } = parseFlags(argv, options, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let spec;
  let backend;
  try {
    spec = redirectSpecFromFlags(values);
    backend = parseBackend(values['iptables-backend'] ?? DEFAULT_IPTABLES_BACKEND);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const routableIpv6 = hasRoutableIpv6(readIfInet6());
  const families = familiesToRedirect(values.ipv6 === true, routableIpv6);
  if (values['dry-run']) {
    for (const family of families) io.stdout(`# IPv${family}\n${buildRules(spec, family).join('\n')}\n`);
    return 0;
  }
  const concrete: ConcreteBackend = backend === 'auto' ? ((await nftUsable()) ? 'nft' : 'legacy') : backend;
  const lockFile = chooseLockFile(process.env, writableDir, tmpdir());
  for (const family of families) await applyRules(buildRules(spec, family), family, { backend: concrete, lockFile });
  io.stdout(`meshid iptables: redirected IPv4${families.includes(6) ? ' and IPv6' : ' (no IPv6 address in this pod)'} with iptables-${concrete}\n`);
  return 0;
}

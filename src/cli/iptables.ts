import { applyRules } from '../injector/iptables-apply.js';
import { IPTABLES_FLAGS, redirectSpecFromFlags } from '../injector/iptables-args.js';
import { buildRules } from '../injector/iptables-rules.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid iptables [--dry-run] [--ipv6] [--proxy-uid 1337] [--inbound-port 15006] [--outbound-port 15001]
    [--include-inbound-ports *|P,..] [--exclude-inbound-ports P,..] [--include-outbound-ports P,..]
    [--exclude-outbound-ports P,..] [--include-outbound-ip-ranges *|CIDR,..] [--exclude-outbound-ip-ranges CIDR,..]
  Sets up the pod's traffic redirection to the proxy (run by the meshid-init container, needs NET_ADMIN).
  Ports 15020, 15021 and 15090 are never redirected inbound; the proxy's uid is never redirected outbound.
  --dry-run prints the iptables-restore input instead of applying it.`;

export async function iptablesCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { ...IPTABLES_FLAGS, 'dry-run': { type: 'boolean' }, ipv6: { type: 'boolean' } }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let spec;
  try {
    spec = redirectSpecFromFlags(values);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const families: Array<4 | 6> = values.ipv6 ? [4, 6] : [4];
  for (const family of families) {
    const rules = buildRules(spec, family);
    if (values['dry-run']) io.stdout(`# IPv${family}\n${rules.join('\n')}\n`);
    else await applyRules(rules, family);
  }
  return 0;
}

import { tmpdir } from 'node:os';
import { applyRules, nftUsable, readIfInet6, writableDir } from '../iptables/apply.js';
import { redirectSpecFromFlags } from '../iptables/args.js';
import { chooseLockFile, DEFAULT_IPTABLES_BACKEND, parseBackend, type ConcreteBackend } from '../iptables/backend.js';
import { familiesToRedirect, hasRoutableIpv6 } from '../iptables/families.js';
import { buildRules } from '../iptables/rules.js';
import { parseTable, UsageError } from './flags.js';
import { IPTABLES_COMMAND_FLAGS, IPTABLES_USAGE } from './iptables-flags.js';
import type { Io } from './run.js';

export async function iptablesCommand(argv: string[], io: Io): Promise<number> {
  const values = parseTable(argv, IPTABLES_COMMAND_FLAGS, 'iptables');
  if (values.help) {
    io.stdout(`${IPTABLES_USAGE}\n`);
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

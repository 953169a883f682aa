import { MeshidError } from '../common/errors.js';
import type { Overrides } from './annotations.js';
import { PORT_INBOUND, PORT_OUTBOUND } from './constants.js';
import type { RedirectSpec } from './iptables-rules.js';
import { parseCidrList, parsePort, parsePortList, type Cidr, type ListOrAll, type Parsed } from './values.js';

/**
 * The flags of `meshid iptables`, shared by the injector (which writes them into the init container)
 * and the command (which reads them back), so the two cannot drift apart.
 */
export const IPTABLES_FLAGS = {
  'proxy-uid': { type: 'string', arg: 'UID', help: 'the proxy\'s uid, whose traffic is never redirected outbound (default 1337)' },
  'inbound-port': { type: 'string', arg: 'PORT', help: `where inbound traffic is redirected (default ${PORT_INBOUND})` },
  'outbound-port': { type: 'string', arg: 'PORT', help: `where outbound traffic is redirected (default ${PORT_OUTBOUND})` },
  'include-inbound-ports': { type: 'string', arg: '*|P,..', help: 'inbound ports to redirect (default *: all)' },
  'exclude-inbound-ports': { type: 'string', arg: 'P,..', help: 'inbound ports never redirected' },
  'include-outbound-ports': { type: 'string', arg: 'P,..', help: 'outbound ports redirected whatever the destination' },
  'exclude-outbound-ports': { type: 'string', arg: 'P,..', help: 'outbound ports never redirected' },
  'include-outbound-ip-ranges': { type: 'string', arg: '*|CIDR,..', help: 'outbound destinations to redirect (default *: all)' },
  'exclude-outbound-ip-ranges': { type: 'string', arg: 'CIDR,..', help: 'outbound destinations never redirected' },
} as const;

type Flag = keyof typeof IPTABLES_FLAGS;

const ports = (l: ListOrAll<number>): string => (l === '*' ? '*' : l.join(','));
const cidrs = (l: ListOrAll<Cidr>): string => (l === '*' ? '*' : l.map((c) => c.text).join(','));

export function redirectArgs(o: Overrides, proxyUid: number): string[] {
  const flags: Record<Flag, string> = {
    'proxy-uid': String(proxyUid),
    'inbound-port': String(PORT_INBOUND),
    'outbound-port': String(PORT_OUTBOUND),
    'include-inbound-ports': ports(o.includeInboundPorts),
    'exclude-inbound-ports': ports(o.excludeInboundPorts),
    'include-outbound-ports': ports(o.includeOutboundPorts),
    'exclude-outbound-ports': ports(o.excludeOutboundPorts),
    'include-outbound-ip-ranges': cidrs(o.includeOutboundIPRanges),
    'exclude-outbound-ip-ranges': cidrs(o.excludeOutboundIPRanges),
  };
  // `--flag=value` keeps an empty list one argument instead of swallowing the next flag.
  return Object.entries(flags).map(([k, v]) => `--${k}=${v}`);
}

export function redirectSpecFromFlags(values: Partial<Record<Flag, string>>): RedirectSpec {
  const get = <T>(flag: Flag, fallback: string, parse: (t: string) => Parsed<T>): T => {
    const r = parse(values[flag] ?? fallback);
    if (!r.ok) throw new MeshidError('invalid_flag', `--${flag}: ${r.reason}`);
    return r.value;
  };
  const uid = values['proxy-uid'] ?? '1337';
  if (!/^\d{1,10}$/.test(uid) || Number(uid) > 0x7fffffff) throw new MeshidError('invalid_flag', `--proxy-uid: "${uid.slice(0, 32)}" is not a uid`);
  return {
    proxyUid: Number(uid),
    inboundPort: get('inbound-port', String(PORT_INBOUND), parsePort),
    outboundPort: get('outbound-port', String(PORT_OUTBOUND), parsePort),
    includeInboundPorts: get('include-inbound-ports', '*', parsePortList),
    excludeInboundPorts: get('exclude-inbound-ports', '', parsePortList),
    includeOutboundPorts: get('include-outbound-ports', '', parsePortList),
    excludeOutboundPorts: get('exclude-outbound-ports', '', parsePortList),
    includeOutboundIPRanges: get('include-outbound-ip-ranges', '*', parseCidrList),
    excludeOutboundIPRanges: get('exclude-outbound-ip-ranges', '', parseCidrList),
  };
}

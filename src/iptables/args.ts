import { MeshidError } from '../common/errors.js';
import { PORTS, PROXY_UID } from '../common/pod-contract.js';
import type { RedirectSpec, TrafficLists } from './rules.js';
import { parseCidrList, parsePort, parsePortList, type Cidr, type ListOrAll, type Parsed } from './traffic-values.js';

/**
 * The flags of `meshid iptables`, shared by the injector (which writes them into the init container)
 * and the command (which reads them back), so the two cannot drift apart.
 */
export const IPTABLES_FLAGS = {
  'proxy-uid': { type: 'string', arg: 'UID', help: `the proxy's uid, whose traffic is never redirected outbound (default ${PROXY_UID})` },
  'inbound-port': { type: 'string', arg: 'PORT', help: `where inbound traffic is redirected (default ${PORTS.inbound})` },
  'outbound-port': { type: 'string', arg: 'PORT', help: `where outbound traffic is redirected (default ${PORTS.outbound})` },
  'include-inbound-ports': { type: 'string', arg: '*|P,..', help: 'inbound ports to redirect (default *: all)' },
  'exclude-inbound-ports': { type: 'string', arg: 'P,..', help: 'inbound ports never redirected' },
  'include-outbound-ports': { type: 'string', arg: 'P,..', help: 'outbound ports redirected whatever the destination' },
  'exclude-outbound-ports': { type: 'string', arg: 'P,..', help: 'outbound ports never redirected' },
  'include-outbound-ip-ranges': { type: 'string', arg: '*|CIDR,..', help: 'outbound destinations to redirect (default *: all)' },
  'exclude-outbound-ip-ranges': { type: 'string', arg: 'CIDR,..', help: 'outbound destinations never redirected' },
} as const;

type Flag = keyof typeof IPTABLES_FLAGS;

/** What `meshid iptables` takes when a flag is absent; the injector leaves out a flag whose value is this and empty. */
const FLAG_DEFAULTS: Record<Flag, string> = {
  'proxy-uid': String(PROXY_UID),
  'inbound-port': String(PORTS.inbound),
  'outbound-port': String(PORTS.outbound),
  'include-inbound-ports': '*',
  'exclude-inbound-ports': '',
  'include-outbound-ports': '',
  'exclude-outbound-ports': '',
  'include-outbound-ip-ranges': '*',
  'exclude-outbound-ip-ranges': '',
};

const ports = (l: ListOrAll<number>): string => (l === '*' ? '*' : l.join(','));
const cidrs = (l: ListOrAll<Cidr>): string => (l === '*' ? '*' : l.map((c) => c.text).join(','));

export function redirectArgs(o: TrafficLists, proxyUid: number): string[] {
  const flags: Record<Flag, string> = {
    'proxy-uid': String(proxyUid),
    'inbound-port': String(PORTS.inbound),
    'outbound-port': String(PORTS.outbound),
    'include-inbound-ports': ports(o.includeInboundPorts),
    'exclude-inbound-ports': ports(o.excludeInboundPorts),
    'include-outbound-ports': ports(o.includeOutboundPorts),
    'exclude-outbound-ports': ports(o.excludeOutboundPorts),
    'include-outbound-ip-ranges': cidrs(o.includeOutboundIPRanges),
    'exclude-outbound-ip-ranges': cidrs(o.excludeOutboundIPRanges),
  };
  // An empty list that is also the default says nothing (`--exclude-inbound-ports=`); an empty one that is not
  // (`--include-inbound-ports=`: redirect no inbound port) must stay, as `--flag=value`, one argument.
  return (Object.entries(flags) as Array<[Flag, string]>).filter(([k, v]) => !(v === '' && FLAG_DEFAULTS[k] === '')).map(([k, v]) => `--${k}=${v}`);
}

export function redirectSpecFromFlags(values: Partial<Record<Flag, string>>): RedirectSpec {
  const get = <T>(flag: Flag, parse: (t: string) => Parsed<T>): T => {
    const r = parse(values[flag] ?? FLAG_DEFAULTS[flag]);
    if (!r.ok) throw new MeshidError('invalid_flag', `--${flag}: ${r.reason}`);
    return r.value;
  };
  const uid = values['proxy-uid'] ?? FLAG_DEFAULTS['proxy-uid'];
  if (!/^\d{1,10}$/.test(uid) || Number(uid) > 0x7fffffff) throw new MeshidError('invalid_flag', `--proxy-uid: "${uid.slice(0, 32)}" is not a uid`);
  return {
    proxyUid: Number(uid),
    inboundPort: get('inbound-port', parsePort),
    outboundPort: get('outbound-port', parsePort),
    includeInboundPorts: get('include-inbound-ports', parsePortList),
    excludeInboundPorts: get('exclude-inbound-ports', parsePortList),
    includeOutboundPorts: get('include-outbound-ports', parsePortList),
    excludeOutboundPorts: get('exclude-outbound-ports', parsePortList),
    includeOutboundIPRanges: get('include-outbound-ip-ranges', parseCidrList),
    excludeOutboundIPRanges: get('exclude-outbound-ip-ranges', parseCidrList),
  };
}

import { PORTS } from '../common/pod-contract.js';
import type { Cidr, ListOrAll } from './traffic-values.js';

/** Which traffic is redirected through the proxy: the annotations' lists, as parsed. */
export interface TrafficLists {
  includeInboundPorts: ListOrAll<number>;
  excludeInboundPorts: ListOrAll<number>;
  includeOutboundPorts: ListOrAll<number>;
  excludeOutboundPorts: ListOrAll<number>;
  includeOutboundIPRanges: ListOrAll<Cidr>;
  excludeOutboundIPRanges: ListOrAll<Cidr>;
}

/** What to redirect: the init container's flags, parsed. */
export interface RedirectSpec extends TrafficLists {
  proxyUid: number;
  inboundPort: number;
  outboundPort: number;
}

/** The agent's own ports answer the kubelet and Prometheus directly, never through Envoy. */
export const ALWAYS_EXCLUDED_INBOUND: readonly number[] = [PORTS.agentStatus, PORTS.agentHealth, PORTS.envoyStats];

const IN = 'MESHID_INBOUND';
const IN_REDIRECT = 'MESHID_IN_REDIRECT';
const OUT = 'MESHID_OUTPUT';
const OUT_REDIRECT = 'MESHID_REDIRECT';

/**
 * The nat table as `iptables-restore --noflush` input, for one address family. Pure, so tests can
 * read exactly what `meshid iptables` would apply.
 */
export function buildRules(spec: RedirectSpec, family: 4 | 6): string[] {
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const rules = [
    '*nat',
    ...[IN, IN_REDIRECT, OUT, OUT_REDIRECT].map((c) => `:${c} - [0:0]`),
    `-A ${IN_REDIRECT} -p tcp -j REDIRECT --to-ports ${spec.inboundPort}`,
    `-A ${OUT_REDIRECT} -p tcp -j REDIRECT --to-ports ${spec.outboundPort}`,
    ...inboundRules(spec),
    `-A OUTPUT -p tcp -j ${OUT}`,
    // The proxy's own connections leave untouched, else every upstream call would loop into Envoy.
    `-A ${OUT} -m owner --uid-owner ${spec.proxyUid} -j RETURN`,
    `-A ${OUT} -m owner --gid-owner ${spec.proxyUid} -j RETURN`,
    `-A ${OUT} -d ${loopback} -j RETURN`,
    ...outboundRules(spec, family),
    'COMMIT',
  ];
  return rules;
}

function inboundRules(spec: RedirectSpec): string[] {
  if (spec.excludeInboundPorts === '*') return [];
  const excluded = new Set([...ALWAYS_EXCLUDED_INBOUND, ...spec.excludeInboundPorts]);
  const jump = `-A PREROUTING -p tcp -j ${IN}`;
  if (spec.includeInboundPorts === '*') {
    return [
      jump,
      ...[...excluded].map((p) => `-A ${IN} -p tcp --dport ${p} -j RETURN`),
      `-A ${IN} -p tcp -j ${IN_REDIRECT}`,
    ];
  }
  const ports = spec.includeInboundPorts.filter((p) => !excluded.has(p));
  if (ports.length === 0) return [];
  return [jump, ...ports.map((p) => `-A ${IN} -p tcp --dport ${p} -j ${IN_REDIRECT}`)];
}

function outboundRules(spec: RedirectSpec, family: 4 | 6): string[] {
  if (spec.excludeOutboundPorts === '*') return [];
  const ofFamily = (l: Cidr[]): string[] => l.filter((c) => c.family === family).map((c) => c.text);
  const rules = spec.excludeOutboundPorts.map((p) => `-A ${OUT} -p tcp --dport ${p} -j RETURN`);
  if (spec.includeOutboundPorts === '*') return [...rules, `-A ${OUT} -j ${OUT_REDIRECT}`];
  rules.push(...spec.includeOutboundPorts.map((p) => `-A ${OUT} -p tcp --dport ${p} -j ${OUT_REDIRECT}`));
  if (spec.excludeOutboundIPRanges === '*') return rules;
  rules.push(...ofFamily(spec.excludeOutboundIPRanges).map((c) => `-A ${OUT} -d ${c} -j RETURN`));
  if (spec.includeOutboundIPRanges === '*') rules.push(`-A ${OUT} -j ${OUT_REDIRECT}`);
  else rules.push(...ofFamily(spec.includeOutboundIPRanges).map((c) => `-A ${OUT} -d ${c} -j ${OUT_REDIRECT}`));
  return rules;
}

import { isIP } from 'node:net';
import { BlockList } from 'node:net';
import type { Inspected } from './client-hello.js';

type Json = Record<string, any>;

export interface ConnectionFacts extends Inspected { address: string; port: number }

/**
 * Envoy's filter chain match, for the criteria our listeners use, in Envoy's order: destination port, then
 * destination IP (longest prefix), then transport protocol, then application protocols. At each level the most
 * specific match wins and chains without that criterion are the fallback; nothing left means the default chain,
 * or none (the connection is closed).
 */
export function selectChain(listener: Json, c: ConnectionFacts): Json | null {
  if (listener.filter_chain_matcher) {
    const name = evaluate(listener.filter_chain_matcher, c);
    return (listener.filter_chains ?? []).find((ch: Json) => ch.name === name) ?? listener.default_filter_chain ?? null;
  }
  let candidates: Json[] = listener.filter_chains ?? [];
  const m = (chain: Json): Json => chain.filter_chain_match ?? {};
  candidates = narrow(candidates, (ch) => (m(ch).destination_port === undefined ? 0 : m(ch).destination_port === c.port ? 1 : -1));
  candidates = narrow(candidates, (ch) => prefixScore(m(ch).prefix_ranges, c.address));
  candidates = narrow(candidates, (ch) => (m(ch).transport_protocol === undefined ? 0 : m(ch).transport_protocol === c.transport ? 1 : -1));
  candidates = narrow(candidates, (ch) => {
    const protos: string[] | undefined = m(ch).application_protocols;
    return !protos?.length ? 0 : protos.some((p) => c.alpn.includes(p)) ? 1 : -1;
  });
  return candidates[0] ?? listener.default_filter_chain ?? null;
}

/** Keeps the chains with the best non-negative score (negative: does not match). */
function narrow(chains: Json[], score: (c: Json) => number): Json[] {
  const scored = chains.map((c) => ({ c, s: score(c) })).filter((x) => x.s >= 0);
  const best = Math.max(-1, ...scored.map((x) => x.s));
  return scored.filter((x) => x.s === best).map((x) => x.c);
}

/** 0 without prefix ranges, 1 + the longest matching prefix length, -1 when none matches. */
function prefixScore(ranges: Json[] | undefined, address: string): number {
  if (!ranges?.length) return 0;
  let best = -1;
  for (const r of ranges) {
    const family = isIP(r.address_prefix) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(address) !== (family === 'ipv6' ? 6 : 4)) continue;
    const list = new BlockList();
    list.addSubnet(r.address_prefix, r.prefix_len ?? (family === 'ipv6' ? 128 : 32), family);
    if (list.check(address, family)) best = Math.max(best, 1 + (r.prefix_len ?? 0));
  }
  return best;
}

/**
 * Listener.filter_chain_matcher, for the inputs our listeners use (destination IP and port, exact maps): the
 * chain name its action gives, or null (no match: the default chain).
 */
function evaluate(m: Json, c: ConnectionFacts): string | null {
  const tree = m.matcher_tree;
  const input = String(tree?.input?.typed_config?.['@type'] ?? '');
  const value = input.endsWith('.DestinationIPInput') ? c.address : input.endsWith('.DestinationPortInput') ? String(c.port) : undefined;
  const hit = value === undefined ? undefined : tree?.exact_match_map?.map?.[value];
  const found = hit ? onMatch(hit, c) : null;
  if (found !== null) return found;
  return m.on_no_match ? onMatch(m.on_no_match, c) : null;
}

function onMatch(o: Json, c: ConnectionFacts): string | null {
  if (o.action) return String(o.action.typed_config?.value ?? '');
  return o.matcher ? evaluate(o.matcher, c) : null;
}

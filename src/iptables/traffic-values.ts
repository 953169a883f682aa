import { isIPv4, isIPv6 } from 'node:net';
import { show } from '../common/text.js';

/**
 * Parsers for the traffic value grammars (ports, port lists, CIDR lists) that annotations and `meshid iptables`
 * flags share. They return a reason string on failure rather than throwing, so the caller can name the
 * annotation or flag in one message.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** `*` means every port/range; an explicit list otherwise (possibly empty). */
export type ListOrAll<T> = '*' | T[];

const MAX_LIST_ENTRIES = 256;

function splitList(text: string): Parsed<ListOrAll<string>> {
  const trimmed = text.trim();
  if (trimmed === '*') return { ok: true, value: '*' };
  if (trimmed === '') return { ok: true, value: [] };
  const items = trimmed.split(',').map((s) => s.trim());
  if (items.length > MAX_LIST_ENTRIES) return { ok: false, reason: `more than ${MAX_LIST_ENTRIES} entries` };
  if (items.includes('')) return { ok: false, reason: 'empty list entry' };
  if (items.includes('*')) return { ok: false, reason: '"*" must stand alone' };
  return { ok: true, value: items };
}

export function parsePort(text: string): Parsed<number> {
  if (!/^\d{1,5}$/.test(text)) return { ok: false, reason: `${show(text)} is not a port number` };
  const n = Number(text);
  if (n < 1 || n > 65535) return { ok: false, reason: `port ${show(text)} is outside 1-65535` };
  return { ok: true, value: n };
}

export function parsePortList(text: string): Parsed<ListOrAll<number>> {
  const list = splitList(text);
  if (!list.ok || list.value === '*') return list as Parsed<ListOrAll<number>>;
  const ports: number[] = [];
  for (const item of list.value) {
    const p = parsePort(item);
    if (!p.ok) return p;
    if (!ports.includes(p.value)) ports.push(p.value);
  }
  return { ok: true, value: ports };
}

export interface Cidr {
  family: 4 | 6;
  text: string;
}

export function parseCidr(text: string): Parsed<Cidr> {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bits = slash < 0 ? '' : text.slice(slash + 1);
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return { ok: false, reason: `${show(text)} is not a CIDR like 10.0.0.0/8` };
  if (Number(bits) > (family === 4 ? 32 : 128)) return { ok: false, reason: `${show(text)} has a prefix longer than the address` };
  return { ok: true, value: { family, text: `${addr}/${Number(bits)}` } };
}

export function parseCidrList(text: string): Parsed<ListOrAll<Cidr>> {
  const list = splitList(text);
  if (!list.ok || list.value === '*') return list as Parsed<ListOrAll<Cidr>>;
  const out: Cidr[] = [];
  for (const item of list.value) {
    const c = parseCidr(item);
    if (!c.ok) return c;
    out.push(c.value);
  }
  return { ok: true, value: out };
}

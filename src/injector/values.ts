import { isIPv4, isIPv6 } from 'node:net';
import { truncate } from '../common/duration.js';

/** Quoted, shortened and with control characters escaped: values come from untrusted pods. */
export const show = (text: string): string => JSON.stringify(truncate(text, 48));

/**
 * Parsers for the value grammars annotations use. They return a reason string on failure rather
 * than throwing, so the caller can name the annotation in one message.
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

// Kubernetes resource.Quantity: a non-negative decimal with a binary-SI, decimal-SI or exponent suffix.
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d{1,3})?$/;

export function parseQuantity(text: string): Parsed<string> {
  const t = text.trim();
  if (t.length > 32 || !QUANTITY.test(t)) return { ok: false, reason: `${show(text)} is not a Kubernetes quantity like 100m, 1.5 or 128Mi` };
  return { ok: true, value: t };
}

export function parseBool(text: string): Parsed<boolean> {
  if (text === 'true') return { ok: true, value: true };
  if (text === 'false') return { ok: true, value: false };
  return { ok: false, reason: `${show(text)} is not true or false` };
}

// An image reference: registry/path[:tag][@digest]; anything with spaces or control characters is refused.
const IMAGE = /^[a-z0-9]([a-z0-9._\-/:]*[a-z0-9])?(@sha256:[a-f0-9]{64})?$/i;

export function parseImage(text: string): Parsed<string> {
  if (text.length > 512 || !IMAGE.test(text)) return { ok: false, reason: `${show(text)} is not an image reference` };
  return { ok: true, value: text };
}

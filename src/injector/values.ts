import { show } from '../common/text.js';
import type { Parsed } from '../iptables/traffic-values.js';

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

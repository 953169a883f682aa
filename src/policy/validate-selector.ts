import { isRecord, type Problems, quote, record, typeName } from './shape.js';
import { labelKeyProblem, labelValueProblem } from './values.js';

export const SELECTOR_FIELDS = ['matchLabels'] as const;
const MAX_LABELS = 64;

/**
 * `selector.matchLabels`. No labels is the same as no selector (namespace- or mesh-wide), so an empty one comes
 * back undefined; a selector matching no pod is valid and simply selects nothing.
 */
export function validateSelector(v: unknown, path: string, p: Problems): { matchLabels: Record<string, string> } | undefined {
  const sel = record(v, path, p, SELECTOR_FIELDS, ['matchExpressions']);
  if (!sel || sel.matchLabels === undefined) return undefined;
  const at = `${path}.matchLabels`;
  if (!isRecord(sel.matchLabels)) return void p.add(at, `must be an object, not ${typeName(sel.matchLabels)}`);
  const entries = Object.entries(sel.matchLabels);
  if (entries.length > MAX_LABELS) return void p.add(at, `has ${entries.length} labels; at most ${MAX_LABELS} are allowed`);
  const out: Record<string, string> = {};
  for (const [k, value] of entries) {
    const here = `${at}[${quote(k)}]`;
    const keyProblem = labelKeyProblem(k);
    if (keyProblem) p.add(here, keyProblem);
    else if (typeof value !== 'string') p.add(here, `must be a string, not ${typeName(value)}`);
    else if (labelValueProblem(value)) p.add(here, `${quote(value)} ${labelValueProblem(value)}`);
    else out[k] = value;
  }
  return Object.keys(out).length ? { matchLabels: out } : undefined;
}

/**
 * What the API server's structural-schema validation refuses in a custom resource, for the keywords our CRDs
 * use (type, properties, additionalProperties, enum, maxItems, maxProperties, maxLength). Unknown fields are not
 * refused by the API server but pruned; they are returned apart, as `pruned`.
 */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  enum?: unknown[];
  maxItems?: number;
  maxProperties?: number;
  maxLength?: number;
}

export function schemaProblems(schema: Schema, value: unknown, path = ''): { refused: string[]; pruned: string[] } {
  const out = { refused: [] as string[], pruned: [] as string[] };
  walk(schema, value, path, out);
  return out;
}

function walk(s: Schema, v: unknown, path: string, out: { refused: string[]; pruned: string[] }): void {
  const refuse = (m: string): void => void out.refused.push(`${path || '.'}: ${m}`);
  if (s.enum && !s.enum.includes(v)) return refuse(`not one of ${s.enum.join(', ')}`);
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return refuse('must be an object');
      const entries = Object.entries(v);
      if (s.maxProperties !== undefined && entries.length > s.maxProperties) refuse(`more than ${s.maxProperties} properties`);
      for (const [k, child] of entries) {
        const sub = s.properties?.[k] ?? s.additionalProperties;
        if (sub) walk(sub, child, `${path}.${k}`, out);
        else out.pruned.push(`${path}.${k}`);
      }
      return;
    }
    case 'array':
      if (!Array.isArray(v)) return refuse('must be an array');
      if (s.maxItems !== undefined && v.length > s.maxItems) return refuse(`more than ${s.maxItems} items`);
      v.forEach((item, i) => walk(s.items ?? {}, item, `${path}[${i}]`, out));
      return;
    case 'string':
      if (typeof v !== 'string') return refuse('must be a string');
      if (s.maxLength !== undefined && v.length > s.maxLength) refuse(`longer than ${s.maxLength}`);
      return;
    default:
      throw new Error(`${path}: schema type ${s.type} is not modelled`);
  }
}

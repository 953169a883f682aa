/** Kubernetes label selectors (metav1.LabelSelector) as the API server evaluates them for webhooks. */

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * Whether `labels` satisfy every term of `selector`. An absent or empty selector matches everything,
 * as it does for namespaceSelector and objectSelector. An unknown operator or a requirement whose
 * values do not fit its operator is an error, as the API server would refuse such a configuration.
 */
export function matchesSelector(selector: LabelSelector | undefined | null, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  return (selector?.matchExpressions ?? []).every((req) => matchesRequirement(req, have));
}

function matchesRequirement(req: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const present = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
    case 'NotIn': {
      if (values.length === 0) throw new Error(`label selector: operator ${req.operator} on key "${req.key}" needs at least one value`);
      const inValues = present && values.includes(labels[req.key]!);
      return req.operator === 'In' ? inValues : !inValues;
    }
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) throw new Error(`label selector: operator ${req.operator} on key "${req.key}" takes no values`);
      return req.operator === 'Exists' ? present : !present;
    default:
      throw new Error(`label selector: unknown operator "${req.operator}" on key "${req.key}" (expected In, NotIn, Exists or DoesNotExist)`);
  }
}

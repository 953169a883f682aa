/** Marks objects meshid writes, so operators (and meshid) can tell them from user objects. */
export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'meshid' };

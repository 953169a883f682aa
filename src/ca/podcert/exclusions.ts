import { validateNamespace, validateServiceAccount } from '../../pki/spiffe.js';

/** `NS` (every service account there) or `NS/SA`, comma-separated: identities the signer refuses pod certificates. */
export function parseExclusions(text: string): string[] {
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of entries) {
    const [ns = '', sa, extra] = e.split('/');
    if (extra !== undefined) throw new Error(`"${e.slice(0, 64)}" must be NAMESPACE or NAMESPACE/SERVICEACCOUNT`);
    validateNamespace(ns);
    if (sa !== undefined) validateServiceAccount(sa);
  }
  return entries;
}

/** Why an identity is excluded, or undefined: a pure decision for answerPodCertificate. */
export function exclusionOf(entries: readonly string[]): (namespace: string, serviceAccount: string) => string | undefined {
  const set = new Set(entries);
  return (namespace, serviceAccount) => {
    if (set.has(namespace)) return `namespace ${namespace} is excluded from pod certificates (--pod-certificate-deny)`;
    if (set.has(`${namespace}/${serviceAccount}`)) return `service account ${namespace}/${serviceAccount} is excluded from pod certificates (--pod-certificate-deny)`;
    return undefined;
  };
}

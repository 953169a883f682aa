/** Which mutating webhooks a request reaches: rules and selectors, as kube-apiserver decides it. */
import { type LabelSelector, matchesSelector } from './label-selector.js';

export interface RuleWithOperations {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

export interface MutatingWebhook {
  name: string;
  clientConfig: { url?: string; service?: { namespace: string; name: string; path?: string; port?: number }; caBundle?: string };
  rules?: RuleWithOperations[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  failurePolicy?: 'Fail' | 'Ignore';
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  timeoutSeconds?: number;
}

// A type alias, not an interface, so a configuration can be handed to FakeKube.put() as any object.
export type MutatingWebhookConfiguration = {
  metadata: { name: string };
  webhooks?: MutatingWebhook[];
};

/** What a request is, in the terms rules are written in. */
export interface RequestAttributes {
  operation: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespaced: boolean;
}

/** One webhook of one configuration, in the order the API server calls them. */
export interface Hook {
  configuration: string;
  webhook: MutatingWebhook;
}

/** Configurations sorted by name, webhooks in their listed order: kube-apiserver's calling order. */
export function orderedHooks(configurations: MutatingWebhookConfiguration[]): Hook[] {
  return [...configurations]
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
    .flatMap((c) => (c.webhooks ?? []).map((webhook) => ({ configuration: c.metadata.name, webhook })));
}

const listed = (values: string[] | undefined, value: string): boolean => (values ?? []).some((v) => v === '*' || v === value);

/** A resource entry is `res` or `res/sub`; `*` stands for any resource, `*` after the slash for any subresource. */
function resourceListed(entries: string[] | undefined, resource: string, subresource: string): boolean {
  return (entries ?? []).some((entry) => {
    const [res, sub = ''] = entry.split('/', 2) as [string, string?];
    return (res === '*' || res === resource) && (sub === '*' || sub === subresource);
  });
}

export function ruleMatches(rule: RuleWithOperations, attrs: RequestAttributes): boolean {
  const scope = rule.scope ?? '*';
  const scopeOk = scope === '*' || (scope === 'Namespaced' ? attrs.namespaced : scope === 'Cluster' ? !attrs.namespaced : false);
  return scopeOk
    && listed(rule.operations, attrs.operation)
    && listed(rule.apiGroups, attrs.group)
    && listed(rule.apiVersions, attrs.version)
    && resourceListed(rule.resources, attrs.resource, attrs.subresource);
}

/** Rules first, then the namespace's labels, then the object's: a webhook is called only when all three agree. */
export function webhookMatches(
  hook: MutatingWebhook,
  attrs: RequestAttributes,
  namespaceLabels: Record<string, string> | undefined,
  objectLabels: Record<string, string> | undefined,
): boolean {
  const where = `webhook "${hook.name}"`;
  const selects = (selector: LabelSelector | undefined, labels: Record<string, string> | undefined, which: string): boolean => {
    try {
      return matchesSelector(selector, labels);
    } catch (err) {
      throw new Error(`${where} ${which}: ${(err as Error).message}`);
    }
  };
  return (hook.rules ?? []).some((r) => ruleMatches(r, attrs))
    && selects(hook.namespaceSelector, namespaceLabels, 'namespaceSelector')
    && selects(hook.objectSelector, objectLabels, 'objectSelector');
}

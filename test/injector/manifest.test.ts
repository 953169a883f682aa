import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { parse } from 'yaml';

// Compiled tests live three levels below the repository root (dist*/test/injector).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const load = async (file: string) => parse(await readFile(`${root}manifests/webhook/${file}`, 'utf8'));

type Expr = { key: string; operator: string; values?: string[] };
const matches = (exprs: Expr[], labels: Record<string, string>) =>
  exprs.every((e) => {
    const has = e.key in labels;
    switch (e.operator) {
      case 'In': return has && e.values!.includes(labels[e.key]!);
      case 'NotIn': return !has || !e.values!.includes(labels[e.key]!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: throw new Error(`operator ${e.operator}`);
    }
  });

test('the webhook configuration is valid and says what the contract says', async () => {
  const config = await load('mutatingwebhookconfiguration.yaml');
  new MutatingWebhookConfiguration(config).validate();
  assert.equal(config.metadata.name, 'meshid-sidecar-injector');
  for (const hook of config.webhooks) {
    assert.deepEqual(hook.clientConfig.service, { name: 'meshid', namespace: 'meshid-system', path: '/inject', port: 443 });
    assert.equal(hook.clientConfig.caBundle, undefined, 'the control plane fills it in');
    assert.deepEqual(hook.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.deepEqual(hook.admissionReviewVersions, ['v1']);
    assert.equal(hook.failurePolicy, 'Fail');
    assert.equal(hook.sideEffects, 'None');
    assert.equal(hook.reinvocationPolicy, 'IfNeeded');
    assert.equal(hook.timeoutSeconds, 10);
  }
  const kustomization = await load('kustomization.yaml');
  assert.deepEqual(kustomization.resources, ['mutatingwebhookconfiguration.yaml']);
});

test('selectors: at most one webhook per pod, and only the pods the contract injects', async () => {
  const { webhooks } = await load('mutatingwebhookconfiguration.yaml');
  const count = (ns: string, nsLabels: Record<string, string>, podLabels: Record<string, string>) =>
    webhooks.filter((h: any) =>
      matches(h.namespaceSelector.matchExpressions, { ...nsLabels, 'kubernetes.io/metadata.name': ns }) &&
      matches(h.objectSelector.matchExpressions, podLabels)).length;
  const enabled = { 'meshid.io/inject': 'enabled' };
  assert.equal(count('apps', enabled, {}), 1);
  assert.equal(count('apps', enabled, { 'meshid.io/inject': 'true' }), 1);
  assert.equal(count('apps', enabled, { 'meshid.io/inject': 'false' }), 0);
  assert.equal(count('apps', {}, {}), 0);
  assert.equal(count('apps', {}, { 'meshid.io/inject': 'true' }), 1);
  assert.equal(count('apps', { 'meshid.io/inject': 'disabled' }, { 'meshid.io/inject': 'true' }), 1);
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'meshid-system']) {
    assert.equal(count(ns, enabled, {}), 0, ns);
    assert.equal(count(ns, {}, { 'meshid.io/inject': 'true' }), 0, ns);
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesSelector } from '../helpers/label-selector.js';
import { orderedHooks, ruleMatches, webhookMatches, type MutatingWebhook, type RequestAttributes } from '../helpers/webhook-match.js';

const POD: RequestAttributes = { operation: 'CREATE', group: '', version: 'v1', resource: 'pods', subresource: '', namespaced: true };

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front' };
  it('an absent or empty selector matches everything', () => {
    assert.equal(matchesSelector(undefined, labels), true);
    assert.equal(matchesSelector({}, undefined), true);
  });

  it('matchLabels and every expression must hold', () => {
    const cases: Array<[object, boolean]> = [
      [{ matchLabels: { app: 'web' } }, true],
      [{ matchLabels: { app: 'web', tier: 'back' } }, false],
      [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, true],
      [{ matchExpressions: [{ key: 'missing', operator: 'In', values: ['x'] }] }, false],
      [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, true],
      [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
      [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
      [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
      [{ matchExpressions: [{ key: 'missing', operator: 'DoesNotExist' }] }, true],
      [{ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
    ];
    for (const [selector, expected] of cases) assert.equal(matchesSelector(selector, labels), expected, JSON.stringify(selector));
  });

  it('names what is wrong with a selector the API server would refuse', () => {
    assert.throws(() => matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] }, labels), /unknown operator "Equals" on key "app"/);
    assert.throws(() => matchesSelector({ matchExpressions: [{ key: 'app', operator: 'In' }] }, labels), /In on key "app" needs at least one value/);
    assert.throws(() => matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] }, labels), /takes no values/);
  });
});

describe('webhook rules', () => {
  const rule = { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] };
  it('match operation, group, version, resource and scope, with wildcards', () => {
    const cases: Array<[object, boolean]> = [
      [rule, true],
      [{ ...rule, operations: ['UPDATE'] }, false],
      [{ ...rule, operations: ['*'] }, true],
      [{ ...rule, apiGroups: ['apps'] }, false],
      [{ ...rule, apiGroups: ['*'], apiVersions: ['*'] }, true],
      [{ ...rule, resources: ['deployments'] }, false],
      [{ ...rule, resources: ['*'] }, true],
      [{ ...rule, resources: ['pods/*'] }, true],
      [{ ...rule, resources: ['*/*'] }, true],
      [{ ...rule, resources: ['pods/status'] }, false],
      [{ ...rule, scope: 'Namespaced' }, true],
      [{ ...rule, scope: 'Cluster' }, false],
    ];
    for (const [r, expected] of cases) assert.equal(ruleMatches(r, POD), expected, JSON.stringify(r));
    assert.equal(ruleMatches({ ...rule, resources: ['*'] }, { ...POD, subresource: 'status' }), false, '* is no subresource');
  });

  it('a webhook needs a matching rule and both selectors', () => {
    const hook: MutatingWebhook = { name: 'h', clientConfig: {}, rules: [rule], namespaceSelector: { matchLabels: { on: 'yes' } }, objectSelector: { matchExpressions: [{ key: 'skip', operator: 'DoesNotExist' }] } };
    assert.equal(webhookMatches(hook, POD, { on: 'yes' }, {}), true);
    assert.equal(webhookMatches(hook, POD, {}, {}), false);
    assert.equal(webhookMatches(hook, POD, { on: 'yes' }, { skip: '1' }), false);
    assert.equal(webhookMatches({ ...hook, rules: [] }, POD, { on: 'yes' }, {}), false);
    assert.throws(() => webhookMatches({ ...hook, objectSelector: { matchExpressions: [{ key: 'a', operator: 'Nope' }] } }, POD, { on: 'yes' }, {}), /webhook "h" objectSelector: label selector: unknown operator/);
  });

  it('orders configurations by name and keeps each one’s webhooks in order', () => {
    const hook = (name: string) => ({ name, clientConfig: {} });
    const order = orderedHooks([{ metadata: { name: 'b' }, webhooks: [hook('b1'), hook('b2')] }, { metadata: { name: 'a' }, webhooks: [hook('a1')] }]);
    assert.deepEqual(order.map((h) => `${h.configuration}/${h.webhook.name}`), ['a/a1', 'b/b1', 'b/b2']);
  });
});

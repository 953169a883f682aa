import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPod, isRefusal } from '../helpers/cluster-admission.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { allowed, plainPod, podHook, startTestWebhook, type TestWebhook } from '../helpers/test-webhook.js';
import type { MutatingWebhook } from '../helpers/webhook-match.js';

describe('the fake API server admits pods through webhooks as kube-apiserver does', () => {
  let fake: FakeKube;
  let hook: TestWebhook;
  let seq = 0;
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  before(async () => {
    fake = await FakeKube.start();
    cleanups.push(() => fake.close());
    hook = await startTestWebhook({ after: (fn) => void cleanups.push(fn) });
  });

  /** A fresh namespace whose pods only `webhooks` (configurations name -> webhooks) see. */
  function setUp(configs: Record<string, (label: string) => MutatingWebhook[]>): string {
    const ns = `chain-${++seq}`;
    fake.put('namespaces', { metadata: { name: ns, labels: { 'admission-test': ns } } });
    for (const [name, hooks] of Object.entries(configs)) fake.put('mutatingwebhookconfigurations', { metadata: { name: `${name}-${ns}` }, webhooks: hooks(ns) });
    return ns;
  }
  const via = (path: string, extra: Partial<MutatingWebhook> = {}) => (ns: string) => [podHook(`${path}.${ns}.test`, ns, { url: hook.url(`${ns}/${path}`), caBundle: hook.caBundle }, extra)];
  const answer = (ns: string, path: string, fn: (review: any) => unknown) => hook.answers.set(`/${ns}/${path}`, fn);
  const callsIn = (ns: string) => fake.webhookCalls.filter((c) => c.namespace === ns);

  it('sends an admission.k8s.io/v1 AdmissionReview of the CREATE, with a fresh uid per call', async () => {
    const ns = setUp({ a: via('look') });
    answer(ns, 'look', (r) => allowed(r));
    fake.user = { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] };
    const pod = { ...plainPod(''), metadata: { generateName: 'web-', labels: { app: 'web' } } };
    assert.ok(!isRefusal(await createPod(fake, ns, pod)));
    assert.ok(!isRefusal(await createPod(fake, ns, pod)));
    const seen = hook.received.filter((r) => r.path.startsWith(`/${ns}/`));
    assert.equal(seen.length, 2);
    const [{ review, path, contentType }] = seen as [typeof seen[0]];
    assert.equal(path, `/${ns}/look?timeout=10s`);
    assert.equal(contentType, 'application/json');
    assert.deepEqual([review.apiVersion, review.kind], ['admission.k8s.io/v1', 'AdmissionReview']);
    const { uid, object, ...rest } = review.request;
    assert.deepEqual(rest, {
      kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' }, requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: ns, operation: 'CREATE', userInfo: fake.user, oldObject: null, dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    });
    assert.equal(object.metadata.namespace, ns, 'the request namespace is set on the object');
    assert.equal(object.metadata.name, undefined, 'names are generated after admission');
    assert.notEqual(seen[1]!.review.request.uid, uid);
    assert.deepEqual(callsIn(ns).map((c) => c.uid), seen.map((s) => s.review.request.uid));
  });

  it('applies JSON patches in order: configurations by name, webhooks as listed', async () => {
    const ns = setUp({
      b: (n) => [...via('second')(n), ...via('third')(n)],
      a: via('first'),
    });
    for (const step of ['first', 'second', 'third']) answer(ns, step, (r) => allowed(r, [{ op: 'add', path: `/metadata/labels/${step}`, value: String(Object.keys(r.request.object.metadata.labels ?? {}).length) }]));
    const r = await createPod(fake, ns, plainPod('ordered', { labels: {} }));
    assert.ok(!isRefusal(r), JSON.stringify(r));
    assert.deepEqual(fake.get('pods', ns, 'ordered')!.metadata.labels, { first: '0', second: '1', third: '2' });
    assert.deepEqual(callsIn(ns).map((c) => c.webhook.split('.')[0]), ['first', 'second', 'third']);
  });

  it('re-invokes an earlier IfNeeded webhook once when a later one changed the pod; never a Never one', async () => {
    const ns = setUp({ a: (n) => [...via('ifneeded', { reinvocationPolicy: 'IfNeeded' })(n), ...via('never', { reinvocationPolicy: 'Never' })(n)], b: via('changer') });
    answer(ns, 'ifneeded', (r) => allowed(r, [{ op: 'add', path: '/metadata/annotations', value: { ...r.request.object.metadata.annotations, seen: String(Boolean(r.request.object.metadata.labels?.changed)) } }]));
    answer(ns, 'never', (r) => allowed(r));
    answer(ns, 'changer', (r) => allowed(r, [{ op: 'add', path: '/metadata/labels', value: { changed: 'yes' } }]));
    assert.ok(!isRefusal(await createPod(fake, ns, plainPod('again'))));
    assert.deepEqual(callsIn(ns).map((c) => [c.webhook.split('.')[0], c.reinvocation]), [['ifneeded', false], ['never', false], ['changer', false], ['ifneeded', true]]);
    assert.equal(fake.get('pods', ns, 'again')!.metadata.annotations!['seen' as never], 'true', 'the reinvocation saw the later change');
  });

  it('does not re-invoke when later webhooks leave the pod as it was', async () => {
    const ns = setUp({ a: via('ifneeded', { reinvocationPolicy: 'IfNeeded' }), b: via('noop') });
    answer(ns, 'ifneeded', (r) => allowed(r, [{ op: 'add', path: '/metadata/labels', value: { mine: 'x' } }]));
    answer(ns, 'noop', (r) => allowed(r, [{ op: 'add', path: '/metadata/labels/mine', value: 'x' }]));
    assert.ok(!isRefusal(await createPod(fake, ns, plainPod('once'))));
    assert.deepEqual(callsIn(ns).map((c) => c.webhook.split('.')[0]), ['ifneeded', 'noop']);
  });

  const refusals: Array<[string, (r: any) => unknown, Partial<MutatingWebhook>, number, RegExp]> = [
    ['a denial without a code', (r) => ({ ...allowed(r), response: { uid: r.request.uid, allowed: false, status: { message: 'no thanks' } } }), {}, 400, /^admission webhook "deny\.[^"]+" denied the request: no thanks$/],
    ['a denial with 403 and no message', (r) => ({ ...allowed(r), response: { uid: r.request.uid, allowed: false, status: { code: 403 } } }), {}, 403, /^admission webhook "deny\.[^"]+" denied the request without explanation$/],
    ['a response uid that is not the request uid', (r) => ({ ...allowed(r), response: { uid: 'someone-else', allowed: true } }), {}, 500, /^Internal error occurred: failed calling webhook "deny\.[^"]+": received invalid webhook response: expected response\.uid="[0-9a-f-]{36}", got "someone-else"$/],
    ['a response of another kind', (r) => ({ apiVersion: 'v1', kind: 'Status', response: { uid: r.request.uid, allowed: true } }), {}, 500, /received invalid webhook response: expected webhook response of admission\.k8s\.io\/v1, Kind=AdmissionReview, got v1, Kind=Status/],
    ['a body that is not JSON', () => 'not json', {}, 500, /failed to call webhook: .*the response is not JSON/],
    ['a patch without patchType', (r) => ({ ...allowed(r), response: { uid: r.request.uid, allowed: true, patch: Buffer.from('[]').toString('base64') } }), {}, 500, /but not response\.patchType/],
    ['a patch that does not apply', (r) => allowed(r, [{ op: 'remove', path: '/spec/nothing' }]), { failurePolicy: 'Ignore' }, 500, /^Internal error occurred: /],
    ['a patch that makes the pod invalid', (r) => allowed(r, [{ op: 'replace', path: '/spec/containers/0/image', value: 42 }]), {}, 422, /^Pod "victim" is invalid: .*containers\/0\/image must be string/],
    ['a patch that removes every container', (r) => allowed(r, [{ op: 'remove', path: '/spec/containers' }]), {}, 422, /^Pod "victim" is invalid: .*must have required property containers/],
    ['a webhook that does not answer within timeoutSeconds', () => undefined, { timeoutSeconds: 1 }, 500, /failed calling webhook "deny\.[^"]+": failed to call webhook: Post "https:\/\/localhost:\d+\/chain-\d+\/deny\?timeout=1s": context deadline exceeded$/],
  ];
  for (const [what, reply, extra, code, message] of refusals) {
    it(`refuses ${what} with ${code}`, async () => {
      const ns = setUp({ a: via('deny', extra) });
      answer(ns, 'deny', reply);
      const started = Date.now();
      const r = await createPod(fake, ns, plainPod('victim'));
      assert.ok(isRefusal(r), `refused: ${JSON.stringify(r)}`);
      assert.equal(r.code, code, r.message);
      assert.match(r.message, message);
      assert.equal(fake.get('pods', ns, 'victim'), undefined, 'nothing stored');
      assert.ok(Date.now() - started < 3000, 'within the timeout');
    });
  }

  it('admits the pod unmutated when a call fails under failurePolicy Ignore', async () => {
    const ns = setUp({ a: via('slow', { timeoutSeconds: 1, failurePolicy: 'Ignore' }), b: via('fine') });
    answer(ns, 'slow', () => undefined);
    answer(ns, 'fine', (r) => allowed(r, [{ op: 'add', path: '/metadata/labels', value: { fine: 'yes' } }]));
    assert.ok(!isRefusal(await createPod(fake, ns, plainPod('survivor'))));
    assert.deepEqual(fake.get('pods', ns, 'survivor')!.metadata.labels, { fine: 'yes' });
    assert.match(callsIn(ns)[0]!.error!, /context deadline exceeded/);
  });

  it('refuses a pod of a namespace that does not exist, and a pod that names another namespace', async () => {
    const missing = await createPod(fake, 'nowhere', plainPod('lost'));
    assert.deepEqual(missing, { code: 404, message: 'namespaces "nowhere" not found' });
    const ns = setUp({});
    const other = await createPod(fake, ns, { ...plainPod('elsewhere'), metadata: { name: 'elsewhere', namespace: 'default' } });
    assert.ok(isRefusal(other) && other.code === 400, JSON.stringify(other));
  });

  it('does not admit pods written directly with put()', () => {
    const ns = setUp({ a: via('never-called') });
    fake.put('pods', { ...plainPod('direct'), metadata: { name: 'direct', namespace: ns } });
    assert.deepEqual(callsIn(ns), []);
  });
});

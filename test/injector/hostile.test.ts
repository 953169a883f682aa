import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { reviewFor, startWebhook, typicalPod, type Webhook } from './support.js';

let hook: Webhook;
before(async () => {
  hook = await startWebhook();
});
after(() => hook.close());

const errorOf = (r: { status: number; json: any }) => [r.status, r.json?.error?.code];

test('wrong or missing content type is 415 before the body is read', async () => {
  const body = JSON.stringify(reviewFor(typicalPod()));
  assert.deepEqual(errorOf(await hook.post(body, 'text/plain')), [415, 'unsupported_media_type']);
  assert.deepEqual(errorOf(await hook.post(body, 'application/yaml')), [415, 'unsupported_media_type']);
  assert.deepEqual(errorOf(await hook.post(body, null)), [415, 'unsupported_media_type']);
  assert.equal((await hook.post(body, 'application/json; charset=utf-8')).status, 200);
});

test('an empty body is 400', async () => {
  assert.deepEqual(errorOf(await hook.post('')), [400, 'empty_body']);
});

test('malformed JSON is 400 with the error shape and no stack trace', async () => {
  for (const body of ['{', '{"apiVersion": }', '\u0000\u0001', 'null x', '{"a":1}}']) {
    const r = await hook.post(body);
    assert.deepEqual(errorOf(r), [400, 'invalid_json'], body);
    assert.doesNotMatch(JSON.stringify(r.json), /at .*\.js|stack/);
  }
});

test('prototype pollution in the body is refused, not merged', async () => {
  const r = await hook.post('{"__proto__": {"polluted": true}, "apiVersion": "admission.k8s.io/v1"}');
  assert.equal(r.status, 400);
  assert.equal(({} as any).polluted, undefined);
});

test('a 10 MB review is 413 and the server keeps answering', async () => {
  const pod = typicalPod();
  pod.metadata.annotations.big = 'x'.repeat(10 * 1024 * 1024);
  const r = await hook.post(reviewFor(pod));
  assert.deepEqual(errorOf(r), [413, 'body_too_large']);
  const ok = await hook.review(typicalPod());
  assert.equal(ok.allowed, true);
});

test('a review just under the limit is handled', async () => {
  const pod = typicalPod();
  pod.spec.containers[0].env = Array.from({ length: 40_000 }, (_, i) => ({ name: `V${i}`, value: 'v'.repeat(100) }));
  const r = await hook.review(pod);
  assert.equal(r.allowed, true);
  assert.ok(r.patch.length < 100_000, 'the patch does not copy untouched env');
});

test('JSON that is not an AdmissionReview is 400 naming what is missing', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /not a JSON object/],
    ['"text"', /not a JSON object/],
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'a' } }, /admission.k8s.io\/v1/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is missing/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 7 } }, /uid/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u'.repeat(1000), kind: {} } }, /uid/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: 'Pod' } }, /request.kind/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod', version: 'v1' }, namespace: {} } }, /request.namespace/],
  ];
  for (const [body, message] of cases) {
    const r = await hook.post(typeof body === 'string' ? body : JSON.stringify(body));
    assert.deepEqual(errorOf(r), [400, 'invalid_admission_review'], JSON.stringify(body));
    assert.match(r.json.error.message, message);
  }
});

test('objects of another kind are allowed without a patch', async () => {
  for (const [kind, group] of [['ConfigMap', ''], ['Service', ''], ['Deployment', 'apps'], ['Pod', 'example.com']]) {
    const r = await hook.review({ apiVersion: 'v1', kind, metadata: { name: 'x' }, data: { a: 'b' } }, { kind: kind!, group: group! });
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined);
  }
});

test('malformed pods are denied with a message naming the field', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /pod: is not an object/],
    [{ spec: {} }, /spec.containers is missing/],
    [{ spec: { containers: 'web' } }, /spec.containers is not a list/],
    [{ spec: { containers: [{ image: 'x' }] } }, /spec.containers\[0\] has no name/],
    [{ spec: { containers: [{ name: 'a', livenessProbe: 'curl' }] } }, /livenessProbe is malformed/],
    [{ spec: { containers: [{ name: 'a', ports: [1] }] } }, /ports is malformed/],
    [{ metadata: { annotations: { a: 1 } }, spec: { containers: [{ name: 'a' }] } }, /metadata.annotations\["a"\] is not a string/],
    [{ metadata: [], spec: { containers: [] } }, /metadata is not an object/],
    [{ metadata: { annotations: { 'meshid.io/status': '{not json' } }, spec: { containers: [{ name: 'a' }] } }, /meshid.io\/status is not JSON/],
    [{ metadata: { annotations: { 'meshid.io/status': '{"version":2}' } }, spec: { containers: [{ name: 'a' }] } }, /not a version 1/],
    [{ spec: { containers: [{ name: 'meshid-proxy' }] } }, /already has container meshid-proxy without a meshid.io\/status/],
    [{ spec: { containers: [{ name: 'a' }], volumes: [{ name: 'meshid-certs' }] } }, /volume meshid-certs/],
  ];
  for (const [object, message] of cases) {
    const r = await hook.review(object);
    assert.equal(r.allowed, false, JSON.stringify(object));
    assert.equal(r.patch, undefined);
    assert.match(r.status.message, message);
  }
});

test('deeply nested and wide JSON do not crash the server', async () => {
  const deep = '['.repeat(50_000) + ']'.repeat(50_000);
  const r = await hook.post(deep);
  assert.ok([400].includes(r.status), String(r.status));
  const pod = typicalPod();
  pod.metadata.labels = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v']));
  assert.equal((await hook.review(pod)).allowed, true);
});

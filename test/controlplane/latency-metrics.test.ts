import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCa } from '../helpers/controlplane.js';
import { scrapeHistogram, smallestBucketHolding, type HistogramSeries } from '../helpers/histogram.js';
import { postJson } from '../helpers/http.js';
import { opensslCsr } from '../helpers/openssl.js';

const CA_HISTOGRAM = 'meshid_ca_issuance_duration_seconds';
const WEBHOOK_HISTOGRAM = 'meshid_injector_request_duration_seconds';

/** `n` new observations, each taking real time, all inside a finite bucket: the mean cannot exceed that bucket's bound. */
function assertMeasured(before: HistogramSeries, after: HistogramSeries, n: number, what: string): void {
  assert.equal(after.count - before.count, n, `${what}: _count grows by one per request`);
  const added = after.sum - before.sum;
  assert.ok(added > 0, `${what}: _sum grew (by ${added} s), so durations are measured, not 0`);
  const le = smallestBucketHolding(before, after, n);
  assert.ok(le !== undefined && le > 0, `${what}: every observation lies in a finite bucket, not only +Inf`);
  assert.ok(added / n <= le, `${what}: the mean ${added / n} s fits under the bucket bound ${le} s`);
}

test('issuance latency: certificates issued over HTTPS are timed in meshid_ca_issuance_duration_seconds, refusals too', async (t) => {
  const ca = await startLocalCa(t);
  const roots = await ca.roots();
  const token = await ca.token('shop', 'cart');
  const { csr } = await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/cart' });
  const issuedBefore = await scrapeHistogram(ca.monitoringUrl, CA_HISTOGRAM, 'result="issued"');
  const refusedBefore = await scrapeHistogram(ca.monitoringUrl, CA_HISTOGRAM, 'result="token_missing"');

  for (let i = 0; i < 3; i++) {
    const res = await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { token, ca: roots });
    assert.equal(res.status, 200, res.text);
  }
  const refused = await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { ca: roots });
  assert.equal(refused.status, 401, refused.text);

  assertMeasured(issuedBefore, await scrapeHistogram(ca.monitoringUrl, CA_HISTOGRAM, 'result="issued"'), 3, 'issued');
  assertMeasured(refusedBefore, await scrapeHistogram(ca.monitoringUrl, CA_HISTOGRAM, 'result="token_missing"'), 1, 'refused');
});

test('webhook latency: AdmissionReviews over HTTPS are timed in meshid_injector_request_duration_seconds', async (t) => {
  const ca = await startLocalCa(t);
  const roots = await ca.roots();
  const before = await scrapeHistogram(ca.monitoringUrl, WEBHOOK_HISTOGRAM);
  for (let i = 0; i < 4; i++) {
    const res = await postJson(`${ca.webhookUrl}/inject`, review(`b6a1c1d0-0000-4000-8000-00000000000${i}`), { ca: roots });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().response.patchType, 'JSONPatch', 'the pod was injected, so the full path was timed');
  }
  assertMeasured(before, await scrapeHistogram(ca.monitoringUrl, WEBHOOK_HISTOGRAM), 4, 'webhook');
});

function review(uid: string): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } },
    },
  };
}

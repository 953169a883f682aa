import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCa } from '../helpers/controlplane.js';
import { postJson, send } from '../helpers/http.js';

test('the control plane serves POST /inject over HTTPS with a serving certificate from its own CA', async (t) => {
  const ca = await startLocalCa(t);
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b6a1c1d0-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } },
    },
  };
  const res = await postJson(`${ca.webhookUrl}/inject`, review, { ca: await ca.roots() });
  assert.equal(res.status, 200, res.text);
  const body = res.json();
  assert.equal(body.response.uid, review.request.uid);
  assert.equal(body.response.allowed, true);
  assert.equal(body.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
  assert.ok(JSON.stringify(patch).includes('meshid-proxy'));
  assert.match((await send(`${ca.monitoringUrl}/metrics`)).text, /meshid_injector/);
});

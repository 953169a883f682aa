import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/common/log.js';
import { NS, putWebhookConfiguration, requestCert, startFakeCluster, startReplica, webhookCaBundles } from '../helpers/fake-cluster.js';
import { send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/free-port.js';

const cart = { namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'uid-cart-0' } };

test('--token-verifier tokenreview asks the API server for each token; the audience must be meshid-ca', async (t) => {
  const cluster = await startFakeCluster(t);
  const cp = await startReplica(t, cluster.fake, { identity: 'meshid-0', tokenVerifier: 'tokenreview' });
  const roots = cp.authority.current().roots;
  const ok = await requestCert(cp, await cluster.token(cart), roots);
  assert.equal(ok.status, 200, ok.code);
  assert.equal(ok.leaf!.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart');
  const wrong = await requestCert(cp, await cluster.token({ ...cart, audience: 'vault' }), roots);
  assert.deepEqual([wrong.status, wrong.code], [401, 'token_rejected']);
  assert.equal(cluster.fake.calls.filter((c) => c.resource === 'tokenreviews').length, 2);
  assert.ok(!cluster.fake.calls.some((c) => /^\/(\.well-known|openid)\//.test(c.path ?? '')), 'no issuer discovery in TokenReview mode');
});

test('--require-bound-pod refuses tokens of deleted pods and tokens bound to no pod', async (t) => {
  const cluster = await startFakeCluster(t);
  const cp = await startReplica(t, cluster.fake, { identity: 'meshid-0', requireBoundPod: true });
  const roots = cp.authority.current().roots;
  const token = await cluster.token(cart);
  assert.equal((await requestCert(cp, token, roots)).status, 200);
  const unbound = await requestCert(cp, await cluster.token({ namespace: 'shop', serviceAccount: 'cart' }), roots);
  assert.deepEqual([unbound.status, unbound.code], [401, 'token_not_pod_bound']);
  cluster.fake.remove('pods', 'shop', 'cart-0');
  const gone = await requestCert(cp, token, roots);
  assert.deepEqual([gone.status, gone.code], [401, 'pod_not_found'], 'the token still verifies, but its pod is gone');
});

test('/readyz says why until the CA loads; a missing webhook configuration is waited for, not fatal', async (t) => {
  const cluster = await startFakeCluster(t, { webhookConfiguration: false });
  // As when the Deployment starts before its RoleBinding is applied.
  let rbacApplied = false;
  cluster.fake.forbid = (c) => c.resource === 'secrets' && !rbacApplied;
  const logs = new PassThrough();
  let logged = '';
  logs.on('data', (c) => (logged += c));
  const port = await freePort();
  const starting = startReplica(t, cluster.fake, { identity: 'meshid-0', monitoringPort: port, logger: createLogger({ destination: logs, level: 'warn' }) });
  const monitoring = `http://127.0.0.1:${port}`;
  await waitFor(() => logged.includes('cannot load the CA material yet'), { what: 'a startup warning' });
  const notReady = await send(`${monitoring}/readyz`);
  assert.equal(notReady.status, 503);
  assert.match(notReady.json().reason, /cannot load the CA material yet: .*HTTP 403 Forbidden/);
  assert.equal((await send(`${monitoring}/healthz`)).status, 200, 'alive while waiting');

  rbacApplied = true;
  const cp = await starting;
  assert.equal((await send(`${cp.monitoringUrl}/readyz`)).status, 200);
  await waitFor(() => logged.includes('cannot update the webhook caBundle; retrying'), { what: 'the missing webhook configuration warning' });
  assert.match(logged, /MutatingWebhookConfiguration meshid-sidecar-injector.*is the meshid install applied/);
  putWebhookConfiguration(cluster.fake);
  const roots = cp.authority.current().roots.join('');
  await waitFor(() => webhookCaBundles(cluster.fake).every((c) => c === roots), { what: 'the caBundle once the configuration exists' });
  assert.ok(cluster.fake.get('secrets', NS, 'meshid-ca'));
});


test('a broken operator-supplied cacerts Secret fails the start at once, naming the file', async (t) => {
  const cluster = await startFakeCluster(t);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  cluster.fake.put('secrets', { metadata: { name: 'cacerts', namespace: NS }, data: { 'ca-cert.pem': b64('garbage'), 'ca-key.pem': b64('x'), 'cert-chain.pem': b64('x'), 'root-cert.pem': b64('x') } });
  await assert.rejects(startReplica(t, cluster.fake, { identity: 'meshid-0' }), /ca-cert.pem holds no PEM block/);
  assert.equal(cluster.fake.get('secrets', NS, 'meshid-ca'), undefined, 'no CA of its own made instead');
});

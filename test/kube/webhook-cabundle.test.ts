import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isMeshidError } from '../../src/common/errors.js';
import { createKubeClients } from '../../src/kube/client.js';
import { caBundlePatch, ensureWebhookCaBundle } from '../../src/kube/webhook-cabundle.js';
import { FakeKube } from '../helpers/fake-kube.js';

const NAME = 'meshid-sidecar-injector';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const hook = (name: string, caBundle?: string) => ({ name, admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { service: { name: 'meshid', namespace: 'meshid-system', path: '/inject' }, ...(caBundle ? { caBundle } : {}) } });

describe('caBundlePatch', () => {
  it('guards with the resourceVersion and sets only the webhooks that differ', () => {
    const encoded = Buffer.from(PEM).toString('base64');
    const ops = caBundlePatch({ metadata: { resourceVersion: '7' }, webhooks: [hook('a'), hook('b', encoded), hook('c', 'b2xk')] }, PEM);
    assert.deepEqual(ops, [
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: encoded },
      { op: 'replace', path: '/webhooks/2/clientConfig/caBundle', value: encoded },
    ]);
    assert.deepEqual(caBundlePatch({ metadata: { resourceVersion: '7' }, webhooks: [hook('b', encoded)] }, PEM), []);
  });
});

describe('ensureWebhookCaBundle', () => {
  let fake: FakeKube;
  before(async () => {
    fake = await FakeKube.start();
  });
  after(() => fake.close());

  it('patches the named configuration only, and is a no-op once current', async () => {
    fake.put('mutatingwebhookconfigurations', { metadata: { name: NAME }, webhooks: [hook('inject.meshid.io'), hook('ns.meshid.io')] });
    fake.put('mutatingwebhookconfigurations', { metadata: { name: 'someone-else' }, webhooks: [hook('x')] });
    const { admission } = createKubeClients(fake.kubeConfig());
    assert.equal(await ensureWebhookCaBundle(admission, PEM), true);
    const stored = fake.get('mutatingwebhookconfigurations', undefined, NAME)!.webhooks as Array<{ clientConfig: { caBundle: string } }>;
    assert.deepEqual(stored.map((w) => Buffer.from(w.clientConfig.caBundle, 'base64').toString()), [PEM, PEM]);
    assert.equal((fake.get('mutatingwebhookconfigurations', undefined, 'someone-else')!.webhooks as Array<{ clientConfig: object }>)[0]!.clientConfig.hasOwnProperty('caBundle'), false);
    assert.equal(await ensureWebhookCaBundle(admission, PEM), false);
    assert.ok(fake.calls.filter((c) => c.resource === 'mutatingwebhookconfigurations').every((c) => c.name === NAME));
  });

  it('re-reads and retries when the configuration changes between read and patch', async () => {
    let raced = false;
    fake.beforeCall = (call) => {
      if (!raced && call.verb === 'patch') {
        raced = true;
        fake.put('mutatingwebhookconfigurations', { metadata: { name: NAME }, webhooks: [hook('inject.meshid.io'), hook('ns.meshid.io'), hook('new.meshid.io')] });
      }
    };
    try {
      const { admission } = createKubeClients(fake.kubeConfig());
      assert.equal(await ensureWebhookCaBundle(admission, `${PEM}${PEM}`), true);
      assert.ok(raced);
      const stored = fake.get('mutatingwebhookconfigurations', undefined, NAME)!.webhooks as Array<{ clientConfig: { caBundle?: string } }>;
      assert.equal(stored.length, 3);
      assert.ok(stored.every((w) => w.clientConfig.caBundle === Buffer.from(`${PEM}${PEM}`).toString('base64')));
    } finally {
      fake.beforeCall = () => {};
    }
  });

  it('names the configuration when it is missing', async () => {
    const { admission } = createKubeClients(fake.kubeConfig());
    await assert.rejects(ensureWebhookCaBundle(admission, PEM, 'not-installed'), (err) => isMeshidError(err) && err.code === 'webhook_configuration_unavailable' && err.message.includes('not-installed'));
  });
});

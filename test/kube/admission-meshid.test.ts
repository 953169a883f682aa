import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { INIT_CONTAINER, PROXY_CONTAINER, STATUS_ANNOTATION } from '../../src/injector/constants.js';
import { createPod, installWebhookConfiguration, isRefusal, webhookManifest } from '../helpers/cluster-admission.js';
import { NS, startFakeCluster, startReplica, WEBHOOK, type FakeCluster } from '../helpers/fake-cluster.js';
import type { MutatingWebhook } from '../helpers/webhook-match.js';
import { servingMaterial, typicalPod, validatePod } from '../injector/support.js';

const NAMESPACE_HOOK = 'namespace.sidecar-injector.meshid.io';
const OBJECT_HOOK = 'object.sidecar-injector.meshid.io';

const names = (list: Array<{ name: string }> | undefined) => (list ?? []).map((c) => c.name);
const injected = (pod: any) => [...names(pod.spec.initContainers), ...names(pod.spec.containers)];

function podIn(namespace: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Pod {
  const pod = typicalPod();
  pod.metadata.namespace = namespace;
  Object.assign(pod.metadata.labels, labels);
  Object.assign(pod.metadata.annotations, annotations);
  return pod;
}

async function created(cluster: FakeCluster, pod: V1Pod): Promise<any> {
  const r = await createPod(cluster.fake, pod.metadata!.namespace!, pod);
  assert.ok(!isRefusal(r), `created: ${JSON.stringify(r)}`);
  const stored = cluster.fake.get('pods', pod.metadata!.namespace!, r.metadata!.name!);
  assert.ok(stored, 'the pod is stored');
  return stored;
}

/** A port nothing listens on: a Service without running pods. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("pod admission through meshid's real webhook configuration and control plane", () => {
  let cluster: FakeCluster;
  let cp: ControlPlane;
  let hooks: MutatingWebhook[];
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  before(async () => {
    cluster = await startFakeCluster(scope, { webhookConfiguration: false });
    const { fake } = cluster;
    fake.put('namespaces', { metadata: { name: 'apps', labels: { 'meshid.io/inject': 'enabled' } } });
    // Labeled too: only the name the API server puts on every namespace keeps these out.
    for (const name of ['kube-system', NS]) fake.put('namespaces', { metadata: { name, labels: { 'meshid.io/inject': 'enabled' } } });
    cp = await startReplica(scope, fake, { identity: 'replica-a' });
    await installWebhookConfiguration(cluster, cp);
    hooks = fake.get('mutatingwebhookconfigurations', undefined, WEBHOOK)!.webhooks as MutatingWebhook[];
  });

  it('writes the control plane caBundle into the stored manifest', async () => {
    const manifest = await webhookManifest();
    assert.deepEqual(hooks.map((h) => h.name), manifest.webhooks!.map((h) => h.name));
    const pem = Buffer.from(hooks[0]!.clientConfig.caBundle!, 'base64').toString();
    assert.equal(pem, cp.authority.current().roots.join(''));
    assert.equal(cluster.fake.get('namespaces', undefined, 'apps')!.metadata.labels!['kubernetes.io/metadata.name' as never], 'apps');
  });

  it('injects a pod of a labeled namespace, names it from generateName, and stores a schema-valid pod', async () => {
    const before = cluster.fake.webhookCalls.length;
    const pod = await created(cluster, podIn('apps'));
    assert.ok(injected(pod).includes(INIT_CONTAINER) && injected(pod).includes(PROXY_CONTAINER), injected(pod).join(','));
    assert.ok(JSON.parse(pod.metadata.annotations[STATUS_ANNOTATION]));
    assert.match(pod.metadata.name, /^web-7d9f8c-[a-z0-9]{5}$/);
    assert.ok(pod.metadata.uid && pod.metadata.resourceVersion && /Z$/.test(pod.metadata.creationTimestamp));
    validatePod(pod);
    const calls = cluster.fake.webhookCalls.slice(before);
    assert.equal(calls.length, 1);
    assert.deepEqual([calls[0]!.webhook, calls[0]!.allowed, calls[0]!.reinvocation], [NAMESPACE_HOOK, true, false]);
    assert.ok(calls[0]!.patchBytes > 1000, `patch of ${calls[0]!.patchBytes} bytes`);
  });

  it('stores pods the selectors leave out unchanged, without calling the webhook', async () => {
    const before = cluster.fake.webhookCalls.length;
    const left = [podIn('shop'), podIn('apps', { 'meshid.io/inject': 'false' }), podIn('kube-system'), podIn(NS)];
    for (const sent of left) {
      const stored = await created(cluster, sent);
      assert.deepEqual(stored.spec, sent.spec, `${sent.metadata!.namespace} ${JSON.stringify(sent.metadata!.labels)}`);
      assert.deepEqual(stored.metadata.annotations, sent.metadata!.annotations);
    }
    assert.deepEqual(cluster.fake.webhookCalls.slice(before), []);
  });

  it('injects a pod labeled meshid.io/inject=true in an unlabeled namespace, through the object webhook', async () => {
    const before = cluster.fake.webhookCalls.length;
    const pod = await created(cluster, podIn('shop', { 'meshid.io/inject': 'true' }));
    assert.ok(injected(pod).includes(PROXY_CONTAINER));
    validatePod(pod);
    assert.deepEqual(cluster.fake.webhookCalls.slice(before).map((c) => c.webhook), [OBJECT_HOOK]);
  });

  it("refuses a pod with an invalid override with 400 and kube-apiserver's denial wording", async () => {
    const count = cluster.fake.list('pods', 'apps').length;
    const r = await createPod(cluster.fake, 'apps', podIn('apps', {}, { 'sidecar.meshid.io/proxyCPU': 'lots' }));
    assert.ok(isRefusal(r));
    assert.equal(r.code, 400);
    assert.ok(r.message.startsWith(`admission webhook "${NAMESPACE_HOOK}" denied the request: `), r.message);
    assert.match(r.message, /sidecar\.meshid\.io\/proxyCPU/);
    assert.equal(cluster.fake.list('pods', 'apps').length, count, 'nothing stored');
  });

  describe('a webhook the API server cannot use', () => {
    const meshidHook = () => structuredClone(hooks[0]!);
    const cases: Array<[string, () => Promise<Partial<MutatingWebhook>>, RegExp]> = [
      ['no caBundle', async () => ({ clientConfig: { ...meshidHook().clientConfig, caBundle: undefined } }), /unable to get local issuer certificate/],
      ['a wrong caBundle', async () => ({ clientConfig: { ...meshidHook().clientConfig, caBundle: Buffer.from(servingMaterial().caPem).toString('base64') } }), /unable to get local issuer certificate/],
      ['a Service whose name the certificate lacks', async () => ({ clientConfig: { ...meshidHook().clientConfig, service: { namespace: NS, name: 'other', path: '/inject', port: 443 } } }), /does not match certificate's altnames: Host: other\.meshid-system\.svc/],
      ['an unreachable Service', async () => ({ clientConfig: { ...meshidHook().clientConfig, service: { namespace: NS, name: 'gone', path: '/inject', port: 443 } } }), /ECONNREFUSED/],
    ];

    before(async () => {
      const gone = await closedPort();
      const resolve = cluster.fake.resolveService;
      const webhookPort = Number(new URL(cp.webhookUrl).port);
      cluster.fake.resolveService = (ns, name, port) => (name === 'gone' ? { host: '127.0.0.1', port: gone } : name === 'other' ? { host: '127.0.0.1', port: webhookPort } : resolve(ns, name, port));
    });

    for (const [what, change, reason] of cases) {
      for (const policy of ['Fail', 'Ignore'] as const) {
        it(`${what}: failurePolicy ${policy} ${policy === 'Fail' ? 'refuses with 500' : 'admits the pod unmutated'}`, async (t) => {
          const label = `${what}-${policy}`.replace(/[^a-z]+/gi, '-').toLowerCase();
          const name = `broken.${label}.test`;
          cluster.fake.put('namespaces', { metadata: { name: label, labels: { 'admission-test': label } } });
          const hook = { ...meshidHook(), ...(await change()), name, failurePolicy: policy, namespaceSelector: { matchLabels: { 'admission-test': label } }, objectSelector: {} };
          cluster.fake.put('mutatingwebhookconfigurations', { metadata: { name: `test-${label}` }, webhooks: [hook] });
          t.after(() => cluster.fake.remove('mutatingwebhookconfigurations', undefined, `test-${label}`));
          const before = cluster.fake.webhookCalls.length;
          const sent = podIn(label);
          const r = await createPod(cluster.fake, label, sent);
          const calls = cluster.fake.webhookCalls.slice(before);
          assert.deepEqual(calls.map((c) => c.webhook), [name]);
          assert.match(calls[0]!.error ?? '', reason);
          if (policy === 'Fail') {
            assert.ok(isRefusal(r));
            assert.equal(r.code, 500);
            assert.ok(r.message.startsWith(`Internal error occurred: failed calling webhook "${name}": failed to call webhook: Post "https://`), r.message);
            assert.match(r.message, reason);
          } else {
            assert.ok(!isRefusal(r), JSON.stringify(r));
            assert.deepEqual(cluster.fake.get('pods', label, r.metadata!.name!)!.spec, sent.spec);
          }
        });
      }
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POD_CERTIFICATE } from '../../src/common/pod-contract.js';
import { injectorConfig } from '../../src/injector/config.js';
import { MODE_ANNOTATION, STATUS_ANNOTATION } from '../../src/injector/constants.js';
import { injectPod } from '../../src/injector/inject.js';
import { readStatus, uninject } from '../../src/injector/status.js';
import { createPod, installWebhookConfiguration, isRefusal } from '../helpers/cluster-admission.js';
import { type FakeCluster, startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { typicalPod } from '../injector/support.js';

const podCertificatePod = () => {
  const pod = typicalPod();
  pod.metadata.annotations[MODE_ANNOTATION] = 'pod-certificate';
  pod.spec.containers.push({ name: 'worker', image: 'busybox:1.36', volumeMounts: [{ name: 'data', mountPath: '/data' }] });
  return pod;
};

describe('injection mode sidecar.meshid.io/mode: pod-certificate', () => {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let cluster: FakeCluster;
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  before(async () => {
    cluster = await startFakeCluster(scope, { webhookConfiguration: false });
    cluster.fake.put('namespaces', { metadata: { name: 'apps', labels: { 'meshid.io/inject': 'enabled' } } });
    const cp = await startReplica(scope, cluster.fake, { identity: 'replica-a' });
    await installWebhookConfiguration(cluster, cp);
  });

  it('admits a pod with a podCertificate volume for meshid.io/svid and the trust bundle in every app container, and no sidecar', async () => {
    const r = await createPod(cluster.fake, 'apps', podCertificatePod());
    assert.ok(!isRefusal(r), `admitted: ${JSON.stringify(r)}`);
    // Stored, so it passed the Pod schema (kubernetes-models) and the 1.35 podCertificate checks (pod-certificate-schema.ts).
    const pod = cluster.fake.get('pods', 'apps', r.metadata!.name!) as any;
    assert.equal(pod.spec.initContainers, undefined, 'no init container');
    assert.deepEqual(pod.spec.containers.map((c: any) => c.name), ['web', 'worker'], 'no proxy');
    const volume = pod.spec.volumes.find((v: any) => v.name === POD_CERTIFICATE.volume);
    assert.deepEqual(volume.projected.sources, [
      { podCertificate: { signerName: 'meshid.io/svid', keyType: 'ECDSAP256', credentialBundlePath: 'credential-bundle.pem' } },
      { configMap: { name: 'meshid-ca-root-cert', items: [{ key: 'root-cert.pem', path: 'root-cert.pem' }] } },
    ]);
    for (const c of pod.spec.containers) {
      assert.deepEqual(c.volumeMounts.at(-1), { name: POD_CERTIFICATE.volume, mountPath: '/var/run/secrets/meshid/svid', readOnly: true }, c.name);
    }
    assert.equal(pod.spec.containers.find((c: any) => c.name === 'worker').volumeMounts[0].name, 'data', 'own mounts kept');
    const status = JSON.parse(pod.metadata.annotations[STATUS_ANNOTATION]);
    assert.equal(status.mode, 'pod-certificate');
    assert.deepEqual([status.initContainers, status.containers, status.volumes, status.appMounts], [[], [], [POD_CERTIFICATE.volume], [POD_CERTIFICATE.volume]]);
  });

  it('denies an invalid mode with a message naming the annotation', async () => {
    const pod = typicalPod();
    pod.metadata.annotations[MODE_ANNOTATION] = 'sidecarless';
    const r = await createPod(cluster.fake, 'apps', pod);
    assert.ok(isRefusal(r));
    assert.match(r.message, /annotation sidecar\.meshid\.io\/mode: "sidecarless" is not one of sidecar, pod-certificate/);
  });

  it('the API schema check refuses a malformed podCertificate source (the check is not a no-op)', async () => {
    const pod = typicalPod();
    pod.metadata.namespace = 'shop';
    pod.spec.volumes.push({ name: 'svid', projected: { sources: [{ podCertificate: { signerName: 'meshid.io/svid', keyType: 'DSA1024', credentialBundlePath: 'b.pem' } }] } });
    const r = await createPod(cluster.fake, 'shop', pod);
    assert.ok(isRefusal(r));
    assert.match(r.message, /podCertificate\.keyType: Unsupported value: "DSA1024"/);
  });

  it('is idempotent and reversible: injecting twice gives the same pod, un-injecting gives back the original', () => {
    const original = podCertificatePod();
    const config = injectorConfig();
    const once = injectPod(original, 'apps', config).pod;
    const twice = injectPod(once, 'apps', config).pod;
    assert.deepEqual(twice, once);
    assert.deepEqual(uninject(once, readStatus(once)!), original);
  });
});

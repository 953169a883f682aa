import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { meshid } from '../helpers/cli.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { podObject, policyObject, serviceObject, sliceObject } from '../helpers/mesh-objects.js';
import { tempDir } from '../helpers/openssl.js';

describe('meshid describe pod NS/NAME (through the API)', () => {
  let fake: FakeKube;
  let kubeconfig: string;
  before(async () => {
    fake = await FakeKube.start();
    fake.put('pods', podObject('shop', 'web-1', { sa: 'web', ips: ['10.0.0.1', 'fd00::1'], labels: { app: 'web' } }) as never);
    fake.put('pods', podObject('shop', 'cart-1', { sa: 'cart', ips: ['10.0.0.2'], labels: { app: 'cart' } }) as never);
    fake.put('pods', podObject('shop', 'plain', { ips: ['10.0.0.3'], injected: false }) as never);
    fake.put('services', serviceObject('shop', 'web', { clusterIPs: ['10.96.0.10'], selector: { app: 'web' } }) as never);
    fake.put('endpointslices', sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }]) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'meshid-system', 'default-mtls', { mtls: { mode: 'STRICT' } }) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'shop', 'web-port', { selector: { matchLabels: { app: 'web' } }, portLevelMtls: { 8080: { mode: 'DISABLE' } } }) as never);
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'allow-nothing', {}) as never);
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'cart-only', { selector: { matchLabels: { app: 'cart' } }, action: 'DENY', rules: [{}] }) as never);
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'hostile', { action: 'MAYBE' }) as never);
    kubeconfig = join(await tempDir('describe-'), 'config');
    await writeFile(kubeconfig, fake.kubeConfig().exportConfig());
  });
  after(() => fake.close());

  it('prints the pod, its mTLS policies, who may call it and the meshed destinations with their identities', async () => {
    const r = await meshid(['describe', 'pod', 'shop/web-1', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^Pod: +shop\/web-1$/m);
    assert.match(out, /^Identity: +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web$/m);
    assert.match(out, /^Inbound ports \(from the Services selecting the pod\): 8080\/http$/m);
    assert.match(out, /^ {2}meshid-system\/default-mtls {2}mesh-wide {2}mode STRICT$/m);
    assert.match(out, /^ {2}shop\/web-port {2}workload {2}mode UNSET, port 8080: DISABLE$/m);
    assert.match(out, /^ {2}shop\/allow-nothing {2}namespace {2}ALLOW, no rules \(denies all\)$/m);
    assert.doesNotMatch(out, /cart-only/, 'a policy selecting another workload does not apply');
    assert.doesNotMatch(out, /hostile/, 'an invalid policy is not applied');
    assert.match(r.stderr, /^warning: AuthorizationPolicy shop\/hostile ignored: spec\.action: "MAYBE" is not one of ALLOW, DENY/m);
    const dests = out.slice(out.indexOf('Destinations that get mTLS')).split('\n').slice(1).filter(Boolean);
    assert.deepEqual(dests, [
      '  10.0.0.1  spiffe://cluster.local/ns/shop/sa/web',
      '  10.0.0.2  spiffe://cluster.local/ns/shop/sa/cart',
      '  10.96.0.10:80  spiffe://cluster.local/ns/shop/sa/web',
      '  fd00::1  spiffe://cluster.local/ns/shop/sa/web',
    ], 'the plain pod is not among them');
  });

  it('bad input: one line naming what was wrong', async () => {
    for (const [args, code, re] of [
      [['describe', 'pod', 'web-1'], 2, /name the pod as NAMESPACE\/NAME/],
      [['describe', 'service', 'shop/web'], 2, /can describe only "pod"/],
      [['describe', 'pod', 'Shop!/web'], 2, /namespace/i],
      [['describe', 'pod', 'shop/nobody', '--kubeconfig', kubeconfig], 1, /^meshid describe: no pod shop\/nobody that is running or starting in the cluster\n$/],
      [['describe', 'pod', 'shop/web-1', '--kubeconfig', '/nonexistent'], 1, /cannot load Kubernetes config from \/nonexistent/],
    ] as const) {
      const r = await meshid([...args]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    }
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ApiException, type KubeConfig, type V1beta1PodCertificateRequest } from '@kubernetes/client-node';
import { caCommand } from '../../src/cli/ca.js';
import { parseServeConfig } from '../../src/controlplane/config.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { type FakeCluster, NS, startFakeCluster, startReplica } from '../helpers/fake-cluster.js';
import { createRequest, credentialBundle, kubeletKey, requestBody, stubPkcs10, waitForAnswer, type KubeletKey, type RequestOptions } from '../helpers/kubelet-podcert.js';
import { opensslVerify } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';

const condition = (pcr: V1beta1PodCertificateRequest) => pcr.status?.conditions?.find((c) => c.status === 'True');

describe('PodCertificateRequest signer meshid.io/svid, against the fake API over HTTP with @kubernetes/client-node', () => {
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let cluster: FakeCluster;
  let cp: ControlPlane;
  let kc: KubeConfig;
  let n = 0;

  before(async () => {
    cluster = await startFakeCluster(scope);
    kc = cluster.fake.kubeConfig();
    cp = await startReplica(scope, cluster.fake, { identity: 'meshid-0', podCertificateDeny: ['shop/legacy', 'quarantine'] });
    await waitFor(() => cp.isLeader(), { what: 'leadership' });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /** Created as the kubelet creates it; resolves with the answer. */
  const ask = async (o: Partial<RequestOptions> = {}): Promise<{ pcr: V1beta1PodCertificateRequest; key: KubeletKey; name: string }> => {
    const key = o.key ?? kubeletKey();
    const name = `req-${++n}`;
    await createRequest(kc, requestBody({ namespace: 'shop', name, serviceAccount: 'cart', key, ...o }));
    return { pcr: await waitForAnswer(kc, 'shop', name), key, name };
  };

  for (const [type, form] of [['ECDSAP256', 'stub'], ['ECDSAP384', 'stub'], ['RSA3072', 'stub'], ['ECDSAP256', 'pkix']] as const) {
    it(`issues an X509-SVID for a ${type} key (${form === 'stub' ? 'stub PKCS#10 request' : 'pkixPublicKey + proofOfPossession'}) that openssl verifies against the bundle`, async () => {
      const { pcr, key, name } = await ask({ key: kubeletKey(type), form, maxExpirationSeconds: 7200 });
      const c = condition(pcr)!;
      assert.equal(c.type, 'Issued', `${c.reason}: ${c.message}`);
      assert.equal(c.reason, 'Issued');
      const chain = pcr.status!.certificateChain!.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!;
      assert.equal(chain.length, 2, 'the leaf, then the signing CA');
      const bundle = cp.authority.current().roots.join('');
      assert.equal(await opensslVerify(chain[0]!, chain.slice(1), bundle, 'sslclient'), 'leaf.pem: OK');
      assert.equal(await opensslVerify(chain[0]!, chain.slice(1), bundle, 'sslserver'), 'leaf.pem: OK');
      const leaf = new X509Certificate(chain[0]!);
      assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart');
      assert.deepEqual(leaf.publicKey.export({ type: 'spki', format: 'der' }), key.publicKey.export({ type: 'spki', format: 'der' }), "the request's own key");
      assert.ok(leaf.checkPrivateKey(key.privateKey));
      const [nb, br, na] = [pcr.status!.notBefore!, pcr.status!.beginRefreshAt!, pcr.status!.notAfter!].map((d) => d.getTime()) as [number, number, number];
      assert.equal(nb, leaf.validFromDate.getTime());
      assert.equal(na, leaf.validToDate.getTime());
      assert.equal(na - nb, 7200_000, 'the whole maxExpirationSeconds, clock-skew backdating included');
      assert.ok(br >= nb + 0.4 * 7200_000 - 1000 && br <= nb + 0.6 * 7200_000, `beginRefreshAt about half-life: ${(br - nb) / 1000}s`);
      assert.equal(cluster.fake.statusWrites.get(`shop/${name}`), 1);
      // What the kubelet then writes for the app: key and chain in one file that openssl reads as a pair.
      assert.ok(credentialBundle(key, pcr.status!.certificateChain!).startsWith('-----BEGIN PRIVATE KEY-----'));
    });
  }

  it('caps the lifetime at --max-workload-cert-ttl (7d) when the request allows more', async () => {
    const { pcr } = await ask({ maxExpirationSeconds: 7_862_400 });
    assert.equal(condition(pcr)!.type, 'Issued');
    assert.equal(pcr.status!.notAfter!.getTime() - pcr.status!.notBefore!.getTime(), 7 * 86_400_000);
  });

  for (const type of ['ED25519', 'ECDSAP521'] as const) {
    it(`denies a ${type} key, which the API server allows but meshid's key policy does not, with reason UnsupportedKeyType`, async () => {
      const { pcr } = await ask({ key: kubeletKey(type) });
      const c = condition(pcr)!;
      assert.equal(c.type, 'Denied');
      assert.equal(c.reason, 'UnsupportedKeyType');
      assert.match(c.message!, /ECDSAP256/);
      assert.equal(pcr.status!.certificateChain, undefined);
    });
  }

  it('denies identities excluded by --pod-certificate-deny (reason IdentityExcluded), and the flag says what is wrong with a bad list', async () => {
    const { pcr } = await ask({ serviceAccount: 'legacy' });
    assert.deepEqual([condition(pcr)!.type, condition(pcr)!.reason], ['Denied', 'IdentityExcluded']);
    assert.match(condition(pcr)!.message!, /service account shop\/legacy is excluded/);
    assert.throws(() => parseServeConfig({ 'pod-certificate-deny': 'shop/a/b' }), /--pod-certificate-deny: "shop\/a\/b" must be NAMESPACE or NAMESPACE\/SERVICEACCOUNT/);
    assert.throws(() => parseServeConfig({ local: true, 'pod-certificate-deny': 'shop' }), /only apply to cluster mode/);
  });

  it('never touches a request for another signer, nor one already answered', async () => {
    await createRequest(kc, requestBody({ namespace: 'shop', name: 'foreign', signerName: 'example.com/other' }));
    const answered = requestBody({ namespace: 'shop', name: 'answered' });
    cluster.fake.put('podcertificaterequests', { ...answered, metadata: { name: 'answered', namespace: 'shop' }, status: {
      conditions: [{ type: 'Denied', status: 'True', reason: 'ByHand', message: 'an operator said no', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    } } as never);
    await ask();
    await ask();
    for (const name of ['foreign', 'answered']) {
      assert.equal(cluster.fake.statusWrites.get(`shop/${name}`), undefined, name);
      assert.ok(!cluster.fake.calls.some((c) => c.resource === 'podcertificaterequests/status' && c.name === name), `no status write to ${name}`);
    }
    assert.equal(cluster.fake.get('podcertificaterequests', 'shop', 'foreign')!.status, undefined);
  });

  it('the API server refuses what the kubelet would never send: garbage keys, a stub request signed by another key, absurd lifetimes', async () => {
    const refused = async (body: ReturnType<typeof requestBody>, pattern: RegExp) => {
      await assert.rejects(createRequest(kc, body), (err: unknown) => err instanceof ApiException && err.code === 422 && pattern.test(String(err.body)));
    };
    const garbage = requestBody({ namespace: 'shop', name: 'garbage' });
    garbage.spec.stubPKCS10Request = Buffer.from('not a certificate request').toString('base64');
    await refused(garbage, /stubPKCS10Request/);
    const key = kubeletKey();
    const forged = requestBody({ namespace: 'shop', name: 'forged', key });
    forged.spec.stubPKCS10Request = stubPkcs10(key, kubeletKey().privateKey).toString('base64');
    await refused(forged, /does not verify/);
    await refused(requestBody({ namespace: 'shop', name: 'long', maxExpirationSeconds: 10 ** 12 }), /maxExpirationSeconds/);
    await refused(requestBody({ namespace: 'shop', name: 'short', maxExpirationSeconds: 60 }), /maxExpirationSeconds/);
  });

  it('answers hostile requests that got past the API server anyway with a Denied condition, never a crash or a wait', async () => {
    const key = kubeletKey();
    const cases: Array<[string, (s: Record<string, unknown>) => void, string]> = [
      ['garbage-key', (s) => { s.stubPKCS10Request = Buffer.from('\x30\x03\x02\x01').toString('base64'); }, 'InvalidRequest'],
      ['not-base64', (s) => { s.stubPKCS10Request = '%%%'; }, 'InvalidRequest'],
      ['forged', (s) => { s.stubPKCS10Request = stubPkcs10(key, kubeletKey().privateKey).toString('base64'); }, 'InvalidRequest'],
      ['no-key', (s) => { delete s.stubPKCS10Request; }, 'InvalidRequest'],
      ['short-life', (s) => { s.maxExpirationSeconds = 60; }, 'InvalidRequest'],
      ['text-life', (s) => { s.maxExpirationSeconds = 'forever'; }, 'InvalidRequest'],
      ['bad-sa', (s) => { s.serviceAccountName = '../../admin'; }, 'InvalidIdentity'],
      ['rsa-1024', (s) => { s.stubPKCS10Request = stubPkcs10({ ...kubeletKey('RSA3072'), ...rsa1024() }).toString('base64'); }, 'UnsupportedKeyType'],
    ];
    for (const [name, edit] of cases) {
      const body = requestBody({ namespace: 'shop', name, key });
      edit(body.spec);
      cluster.fake.put('podcertificaterequests', body as never);
    }
    const huge = requestBody({ namespace: 'shop', name: 'huge-life', maxExpirationSeconds: 10 ** 12 });
    cluster.fake.put('podcertificaterequests', huge as never);
    for (const [name, , reason] of cases) {
      const c = condition(await waitForAnswer(kc, 'shop', name))!;
      assert.equal(c.type, 'Denied', `${name}: ${c.reason} ${c.message}`);
      assert.equal(c.reason, reason, `${name}: ${c.message}`);
      assert.doesNotMatch(c.message!, /\n|at .*\.js/, 'one line, no stack');
    }
    const capped = await waitForAnswer(kc, 'shop', 'huge-life');
    assert.equal(condition(capped)!.type, 'Issued');
    assert.equal(capped.status!.notAfter!.getTime() - capped.status!.notBefore!.getTime(), 7 * 86_400_000, 'an absurd ceiling is just a ceiling');
  });

  it('meshid ca status --cluster counts the answers and names the oldest pending request', async () => {
    cluster.fake.forbid = (c) => c.resource === 'podcertificaterequests/status' && c.name === 'stuck';
    await createRequest(kc, requestBody({ namespace: 'shop', name: 'stuck' }));
    await waitFor(() => cluster.fake.calls.some((c) => c.resource === 'podcertificaterequests/status' && c.name === 'stuck'), { what: 'an attempt on the stuck request' });
    const out: string[] = [];
    const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t) };
    assert.equal(await caCommand(['status', '--cluster', '--kubeconfig', await cluster.kubeconfigFile(), '--namespace', NS], io), 0);
    const all = cluster.fake.list('podcertificaterequests', 'shop').filter((r) => (r.spec as { signerName: string }).signerName === 'meshid.io/svid');
    const count = (type: string) => all.filter((r) => (r.status as { conditions?: Array<{ type: string }> } | undefined)?.conditions?.[0]?.type === type).length;
    assert.ok(count('Issued') >= 6 && count('Denied') >= 10);
    assert.match(out.join(''), new RegExp(`pod certificates \\(meshid\\.io/svid\\): ${count('Issued')} issued, ${count('Denied')} denied, 0 failed, 1 pending \\(oldest shop/stuck, waiting \\d+s\\)`));
    cluster.fake.forbid = () => false;
    assert.equal(condition(await waitForAnswer(kc, 'shop', 'stuck'))!.type, 'Issued', 'answered once the API lets it: never pending forever');
  });
});

function rsa1024(): Pick<KubeletKey, 'privateKey' | 'publicKey'> {
  return generateKeyPairSync('rsa', { modulusLength: 1024 });
}

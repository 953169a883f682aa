import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { POD_CERTIFICATE } from '../../src/common/pod-contract.js';
import { MODE_ANNOTATION } from '../../src/injector/constants.js';
import { opensslVerify } from '../helpers/openssl.js';
import { APP_IMAGE, labelNamespace, startHarness } from './harness.js';

/**
 * The README's example app: reads the credential bundle the kubelet wrote (key, then chain) and the trust
 * bundle beside it, and serves mutual TLS with them, asking clients for an SVID of the same trust domain.
 */
const APP = `const fs=require('node:fs'),tls=require('node:tls');
const dir=${JSON.stringify(POD_CERTIFICATE.mountPath)};
const bundle=fs.readFileSync(dir+'/${POD_CERTIFICATE.credentialBundleFile}','utf8');
const key=bundle.match(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----\\n/)[0];
const cert=bundle.slice(bundle.indexOf('-----BEGIN CERTIFICATE-----'));
const ca=fs.readFileSync(dir+'/${POD_CERTIFICATE.trustBundleFile}','utf8');
tls.createServer({key,cert,ca,requestCert:true,rejectUnauthorized:true},(s)=>{s.end(JSON.stringify({peer:s.getPeerCertificate().subjectaltname}))}).listen(8443,'::',()=>console.log('serving mTLS'));`;

test('pod-certificate mode: the kubelet step fills the volume through a PodCertificateRequest and the app serves mTLS with the SVID', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'tls-app', namespace: 'shop', annotations: { [MODE_ANNOTATION]: 'pod-certificate' } },
    spec: { serviceAccountName: 'payments', containers: [{ name: 'app', image: APP_IMAGE, command: ['node', '-e', APP], securityContext: { runAsUser: 4242 } }] },
  });
  assert.ok('pod' in created, JSON.stringify(created));
  assert.deepEqual(created.pod.spec.containers.map((c: { name: string }) => c.name), ['app'], 'no sidecar');
  const run = await h.run(created.pod);
  await run.waitFor(() => run.containers.has('app') && /serving mTLS/.test(run.container('app').logs()), 60_000, 'the app serving with its SVID');

  const dir = run.volumePath(POD_CERTIFICATE.volume);
  const bundle = await readFile(join(dir, POD_CERTIFICATE.credentialBundleFile), 'utf8');
  const roots = await readFile(join(dir, POD_CERTIFICATE.trustBundleFile), 'utf8');
  const [leaf, ...intermediates] = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!;
  assert.equal(await opensslVerify(leaf!, intermediates, roots, 'sslserver'), 'leaf.pem: OK');
  assert.equal(new X509Certificate(leaf!).subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/payments');
  const pcrs = h.fake.list('podcertificaterequests', 'shop');
  assert.equal(pcrs.length, 1);
  assert.equal((pcrs[0]!.spec as { podUID: string }).podUID, created.pod.metadata.uid, 'asked for the pod the kubelet runs');

  // A client with an SVID of its own, trusting the same bundle: both sides verify.
  const client = bundle.match(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----\n/)![0];
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: run.ip, port: 8443, ca: roots, key: client, cert: [leaf!, ...intermediates].join(''), checkServerIdentity: () => undefined }, () => {
      let data = '';
      s.on('data', (d) => (data += d)).on('end', () => resolve(data));
    });
    s.on('error', reject);
  });
  assert.deepEqual(JSON.parse(answer), { peer: 'URI:spiffe://cluster.local/ns/shop/sa/payments' });
});

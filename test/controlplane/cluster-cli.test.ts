import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { caCommand } from '../../src/cli/ca.js';
import { serveCommand } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/controlplane/config.js';
import { meshid, spawnServe } from '../helpers/cli.js';
import { NS, publishedBundle, startFakeCluster } from '../helpers/fake-cluster.js';
import { send } from '../helpers/http.js';
import { tempDir } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';

test('cluster-mode serve flags: defaults, and every wrong value reported at once', () => {
  const d = parseServeConfig({});
  assert.deepEqual([d.local, d.kubeconfig, d.tokenVerifier, d.requireBoundPod], [false, undefined, 'jwks', false]);
  const c = parseServeConfig({ kubeconfig: '/k', 'token-verifier': 'tokenreview', 'require-bound-pod': true });
  assert.deepEqual([c.kubeconfig, c.tokenVerifier, c.requireBoundPod], ['/k', 'tokenreview', true]);
  assert.throws(() => parseServeConfig({ 'token-verifier': 'oidc', kubeconfig: ' ', 'ca-port': 'x' }), (err: Error) => {
    assert.match(err.message, /--ca-port "x" must be a port number/);
    assert.match(err.message, /--token-verifier "oidc" must be one of jwks, tokenreview/);
    assert.match(err.message, /--kubeconfig must not be empty/);
    return true;
  });
  assert.throws(() => parseServeConfig({ local: true, kubeconfig: '/k', 'require-bound-pod': true }), /--kubeconfig, --require-bound-pod only apply to cluster mode; drop them or drop --local/);
});

test('wrong cluster flags are refused naming them; an unusable kubeconfig is named', async () => {
  const dir = await tempDir('cluster-cli-');
  const broken = join(dir, 'broken');
  await writeFile(broken, 'clusters: [');
  const io = { stdout: () => {}, stderr: () => {} };
  const cases: Array<[string[], RegExp]> = [
    [['serve', '--token-verifier', 'oidc'], /--token-verifier "oidc" must be one of jwks, tokenreview/],
    [['serve', '--local', '--require-bound-pod'], /--require-bound-pod only apply to cluster mode/],
    [['serve', '--kubeconfig', broken, '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0'], /^cannot load Kubernetes config from .*broken/],
    [['ca', 'status', '--kubeconfig', broken], /^--kubeconfig need --cluster/],
    [['ca', 'rotate-root', '--cluster', '--data-dir', dir], /^--data-dir and --cluster exclude each other/],
    [['ca', 'status', '--cluster', '--namespace', 'Not_A_Namespace'], /^--namespace: namespace "Not_A_Namespace" is not a valid/],
    [['ca', 'status', '--cluster', '--kubeconfig', broken], /^cannot load Kubernetes config from .*broken/],
  ];
  for (const [[command, ...args], message] of cases) {
    await assert.rejects((command === 'serve' ? serveCommand : caCommand)(args, io), (err: Error) => {
      assert.match(err.message, message, `${command} ${args.join(' ')}`);
      return true;
    });
  }
  const out: string[] = [];
  assert.equal(await serveCommand(['--help'], { stdout: (s) => void out.push(s), stderr: () => {} }), 0);
  assert.match(out.join(''), /--kubeconfig FILE[\s\S]*--token-verifier KIND[\s\S]*--require-bound-pod/);
});

test('meshid serve without --local runs against the cluster of --kubeconfig; ca status --cluster reads the same CA', async (t) => {
  const cluster = await startFakeCluster(t);
  const kubeconfig = await cluster.kubeconfigFile();
  const env = { POD_NAMESPACE: NS, POD_NAME: 'meshid-7d9f-x2' };
  const { child, ready, stderr } = await spawnServe(['--kubeconfig', kubeconfig, '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0'], env);
  t.after(() => child.kill('SIGKILL'));
  assert.match(ready, /^meshid ready: ca=https:\/\/127\.0\.0\.1:\d+\/v1\/certificates webhook=\S+ monitoring=(http:\/\/127\.0\.0\.1:\d+)\/metrics istio-ca=127\.0\.0\.1:\d+ trust-bundle=configmap\/meshid-ca-root-cert\n$/);
  assert.equal((await send(`${/monitoring=(\S+)\/metrics/.exec(ready)![1]}/readyz`)).status, 200);
  // The log line follows the ready line on another pipe, so it may arrive a little later.
  await waitFor(() => /"listen":"::"/.test(stderr()), { what: 'the ready log line naming the listen address :: (dual stack)' });
  await waitFor(() => (cluster.fake.get('leases', NS, 'meshid-leader')?.spec as { holderIdentity?: string } | undefined)?.holderIdentity === 'meshid-7d9f-x2', { what: 'the lease held under $POD_NAME' });
  await waitFor(() => publishedBundle(cluster.fake, 'shop') !== undefined, { what: 'the bundle published' });

  const status = await meshid(['ca', 'status', '--cluster', '--kubeconfig', kubeconfig], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^ROLE\s+SUBJECT/);
  assert.match(status.stdout, /\nroot\s+O=cluster.local, CN=meshid root CA/);
  assert.match(status.stdout, /rotation: idle: no rotation has run/);
  assert.ok(status.stdout.includes(new X509Certificate(publishedBundle(cluster.fake, 'shop')!).fingerprint256.slice(0, 23)), 'the root published to namespaces');

  child.kill('SIGTERM');
  assert.equal(await new Promise((r) => child.on('exit', r)), 0);
  assert.equal((cluster.fake.get('leases', NS, 'meshid-leader')?.spec as { holderIdentity?: string }).holderIdentity, '', 'the lease is handed back on shutdown');
});

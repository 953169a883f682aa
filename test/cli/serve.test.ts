import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { meshid, spawnServe } from '../helpers/cli.js';
import { postJson } from '../helpers/http.js';
import { opensslCsr, opensslVerify, tempDir } from '../helpers/openssl.js';

test('meshid serve --local prints one ready line, meshid token mints a token it accepts, SIGTERM exits 0', async () => {
  const dataDir = await tempDir('cli-serve-');
  const { child, ready, stderr } = await spawnServe(['--local', '--data-dir', dataDir, '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0']);
  assert.match(ready, /^meshid ready: ca=https:\/\/127\.0\.0\.1:\d+\/v1\/certificates webhook=https:\/\/127\.0\.0\.1:\d+\/inject monitoring=http:\/\/127\.0\.0\.1:\d+\/metrics istio-ca=127\.0\.0\.1:\d+ trust-bundle=\S+root-cert\.pem\n$/);
  const caUrl = /ca=(\S+)/.exec(ready)![1]!;

  const token = await meshid(['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', dataDir]);
  assert.equal(token.code, 0, token.stderr);
  const { csr } = await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/cart' });
  const roots = await readFile(`${dataDir}/root-cert.pem`, 'utf8');
  const res = await postJson(caUrl, { csr }, { token: token.stdout.trim(), ca: roots });
  assert.equal(res.status, 200, res.text);
  const [leaf, ...chain] = res.json().certChain as string[];
  assert.equal(await opensslVerify(leaf!, chain, roots, 'sslclient'), 'leaf.pem: OK');

  const status = await meshid(['ca', 'status', '--data-dir', dataDir]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^ROLE\s+SUBJECT/);
  assert.match(status.stdout, /\nroot\s+O=cluster.local, CN=meshid root CA/);
  assert.match(status.stdout, /\nsigning\s+O=cluster.local, CN=meshid signing CA/);

  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0);
  assert.ok(!stderr().includes(token.stdout.trim()), 'no token in the logs');
});

test('wrong flags and values exit non-zero with a one-line reason naming them', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['serve', '--local', '--ca-port', '70000'], /--ca-port "70000" must be a port number/],
    [['serve', '--local', '--workload-cert-ttl', '5s'], /--workload-cert-ttl must be at least 10s/],
    [['serve', '--local', '--workload-cert-ttl', '8d'], /must not exceed --max-workload-cert-ttl/],
    [['serve', '--local', '--bundle-propagation-delay', 'soon'], /--bundle-propagation-delay: "soon" is not a duration/],
    [['serve', '--local', '--trust-domain', 'Bad Domain!'], /--trust-domain/],
    [['serve', '--bogus'], /unknown flag --bogus/],
    [['token', '--namespace', 'shop'], /--namespace and --service-account are required/],
    [['token', '--namespace', 'Shop!', '--service-account', 'a'], /namespace "Shop!" is not a valid/],
    [['nope'], /unknown command "nope"/],
  ];
  for (const [args, message] of cases) {
    const r = await meshid(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr.split('\n')[0]!, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const help = await meshid(['serve', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: meshid serve/);
});

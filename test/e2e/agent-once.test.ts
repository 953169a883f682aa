import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { opensslVerify } from '../helpers/openssl.js';
import { Children, startServe } from './children.js';
import { certsOf } from './sds-follower.js';

test('meshid agent --once (the init container) writes a matching cert-chain.pem, key.pem (0600) and root-cert.pem and exits 0; a refused token exits 1 with one line', { timeout: 90_000 }, async (t) => {
  const children = new Children();
  const dir = await mkdtemp(join(tmpdir(), 'e2e-once-'));
  t.after(async () => {
    await children.killAll();
    await rm(dir, { recursive: true, force: true });
  });
  const data = join(dir, 'ca');
  const { serve, caUrl, trustBundle } = await startServe(children, data);
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', data]);
  assert.equal(token.code, 0, token.stderr);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, token.stdout, { mode: 0o600 });
  const agentArgs = (sa: string, outDir: string) => [
    'agent', '--once', '--out-dir', outDir, '--ca-addr', caUrl, '--ca-root', trustBundle, '--token-file', tokenFile,
    '--namespace', 'shop', '--service-account', sa,
  ];

  const out = join(dir, 'out');
  const refusedOut = join(dir, 'refused');
  // The second asks as a service account its token does not name: the CA refuses, the agent says why in one line and writes nothing.
  const [once, refused] = await Promise.all([
    children.run('agent --once', agentArgs('cart', out)),
    children.run('agent --once (wrong identity)', agentArgs('ledger', refusedOut)),
  ]);
  assert.equal(once.code, 0, once.stderr);
  assert.match(once.stderr, /"msg":"SVID written"/);
  assert.ok(!once.stderr.includes(token.stdout.trim()) && !once.stderr.includes('PRIVATE KEY'), 'no secret in the logs');

  assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
  const [chainPem, keyPem, rootsPem] = await Promise.all(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(out, f), 'utf8')));
  const [leaf, ...intermediates] = certsOf(chainPem!);
  assert.ok(leaf && intermediates.length >= 1, 'leaf and signing CA');
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/cart');
  assert.ok(leaf.publicKey.equals(createPublicKey(createPrivateKey(keyPem!))), 'key.pem is the key of the leaf');
  assert.equal(rootsPem, await readFile(trustBundle, 'utf8'), 'root-cert.pem is the trust bundle');
  assert.equal(await opensslVerify(leaf.toString(), intermediates.map((c) => c.toString()), rootsPem!, 'sslclient'), 'leaf.pem: OK');

  assert.equal(refused.code, 1);
  assert.match(refused.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n'), /^meshid agent: the CA refused the request \(HTTP 403, \w+\): .+\n$/);
  assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!existsSync(refusedOut));

  assert.deepEqual(await serve.stop('SIGTERM'), { code: 0, signal: null }, serve.stderr.slice(-1000));
});

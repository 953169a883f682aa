import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/log.js';
import { startControlPlane } from '../../src/controlplane/start.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { postJson } from '../helpers/http.js';
import { operatorCa } from '../helpers/operator-ca.js';
import { opensslCsr, opensslVerify, tempDir } from '../helpers/openssl.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

test('plug-in CA in the Istio layout: leaves are signed by it and chain to the operator root', async (t) => {
  const dataDir = await operatorCa();
  const operatorRoot = await readFile(join(dataDir, 'root-cert.pem'), 'utf8');
  const ca = await startLocalCa(t, { dataDir });
  const { csr } = await opensslCsr({ san: `URI:${ID}` });
  const res = await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { token: await ca.token('shop', 'cart'), ca: operatorRoot });
  assert.equal(res.status, 200, res.text);
  const [leaf, ...chain] = res.json().certChain as string[];
  assert.equal(chain.length, 1, 'the chain carries the plug-in signing CA, not the root');
  assert.deepEqual(res.json().trustBundle, [operatorRoot]);
  assert.equal(await opensslVerify(leaf!, chain, operatorRoot, 'sslserver'), 'leaf.pem: OK');
  assert.equal(await readFile(join(dataDir, 'root-cert.pem'), 'utf8'), operatorRoot, 'the operator files are left as they were');
});

test('broken plug-in material is refused at start with a message naming the file', async () => {
  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ['mismatched key', async (dir) => {
      const other = await opensslCsr();
      await writeFile(join(dir, 'ca-key.pem'), other.key);
    }, /ca-key.pem does not match ca-cert.pem/],
    ['garbage certificate', (dir) => writeFile(join(dir, 'ca-cert.pem'), 'not a certificate'), /ca-cert.pem holds no PEM block/],
    ['unreadable key', (dir) => writeFile(join(dir, 'ca-key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), /ca-key.pem is not a readable private key/],
    ['foreign root', async (dir) => writeFile(join(dir, 'root-cert.pem'), await readFile(join(await operatorCa(), 'root-cert.pem'), 'utf8')), /does not chain to any root in root-cert.pem/],
    ['missing file', async (dir) => writeFile(join(dir, 'cert-chain.pem'), ''), /missing cert-chain.pem/],
  ];
  for (const [name, breakIt, message] of cases) {
    const dataDir = await operatorCa();
    const before = await readFile(join(dataDir, 'root-cert.pem'), 'utf8');
    await breakIt(dataDir);
    await assert.rejects(startControlPlane({ dataDir, local: true, caPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger }), message, name);
    if (name !== 'foreign root') assert.equal(await readFile(join(dataDir, 'root-cert.pem'), 'utf8'), before, `${name}: nothing stored was changed`);
  }
});

test('a restart keeps the same CA and token issuer: old leaves and tokens still verify', async (t) => {
  const dataDir = await tempDir('restart-');
  const first = await startControlPlane({ dataDir, local: true, caPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger });
  const roots = await readFile(first.trustBundlePath, 'utf8');
  const signing = await readFile(join(dataDir, 'ca-cert.pem'), 'utf8');
  const { csr } = await opensslCsr({ san: `URI:${ID}` });
  const ca1 = await startLocalCa(t, { dataDir, caPort: 0 }).catch(() => null);
  assert.ok(ca1, 'a second process on the same data directory shares the CA');
  const token = await ca1.token('shop', 'cart');
  const before = await postJson(`${first.caUrl}/v1/certificates`, { csr }, { token, ca: roots });
  await first.close();
  await ca1.close();

  const second = await startLocalCa(t, { dataDir });
  assert.equal(await second.roots(), roots, 'same trust bundle');
  assert.equal(await readFile(join(dataDir, 'ca-cert.pem'), 'utf8'), signing, 'same signing CA');
  const after = await postJson(`${second.caUrl}/v1/certificates`, { csr }, { token, ca: roots });
  assert.equal(after.status, 200, 'a token minted before the restart is still accepted');
  const [leaf, ...chain] = before.json().certChain as string[];
  assert.equal(await opensslVerify(leaf!, chain, await second.roots(), 'sslclient'), 'leaf.pem: OK');
});

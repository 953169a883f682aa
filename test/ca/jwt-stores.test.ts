import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { FileCaStore } from '../../src/ca/file-store.js';
import { activateJwtKey, stageJwtKey } from '../../src/ca/jwt/rotation.js';
import { newJwtSigningKeyPem } from '../../src/ca/jwt/keys.js';
import { createCaFiles } from '../../src/ca/material.js';
import { JWT_FILES, PLUGIN_FILES } from '../../src/ca/store.js';
import { silentLogger } from '../../src/common/log.js';
import { startControlPlane } from '../../src/controlplane/start.js';
import { startLocalCa, type LocalCa } from '../helpers/controlplane.js';
import { fetchJwtSvid, localJwks } from '../helpers/jwt.js';
import { operatorCa } from '../helpers/operator-ca.js';
import { opensslCsr, tempDir } from '../helpers/openssl.js';

async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.pem'))) out[name] = await readFile(join(dir, name), 'utf8');
  return out;
}

async function jwtWorks(ca: LocalCa): Promise<string> {
  const roots = await ca.roots();
  const res = await fetchJwtSvid(ca.caUrl, { audience: ['a'] }, { token: await ca.token('shop', 'cart'), roots });
  assert.equal(res.status, 200, res.text);
  await jwtVerify(res.json().token, await localJwks(ca.caUrl, roots), { audience: 'a' });
  return decodeProtectedHeader(res.json().token).kid!;
}

test('FileCaStore keeps the JWT key files: private keys 0600, the retiring public key 0644', async () => {
  const dir = await tempDir('jwt-store-');
  const store = new FileCaStore(dir);
  const files = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes });
  assert.ok(files[JWT_FILES.signingKey]!.includes('BEGIN PRIVATE KEY'), 'a new CA comes with a JWT key');
  assert.notEqual(files[JWT_FILES.signingKey], files[PLUGIN_FILES.signingKey], 'of its own');
  const staged = await store.write(stageJwtKey(files, newJwtSigningKeyPem()), null);
  assert.equal((await stat(join(dir, JWT_FILES.nextSigningKey))).mode & 0o777, 0o600);
  await store.write(activateJwtKey(staged.files), staged.version);
  assert.deepEqual((await store.read())!.files, await readAll(dir));
  assert.equal((await stat(join(dir, JWT_FILES.signingKey))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, JWT_FILES.previousPublicKey))).mode & 0o777, 0o644);
  assert.equal(await readFile(join(dir, JWT_FILES.signingKey), 'utf8'), staged.files[JWT_FILES.nextSigningKey]);
});

test('a folder made by an older meshid (no JWT key) gains one on start, its files untouched; a restart keeps it', async (t) => {
  const dataDir = await tempDir('jwt-older-');
  const older = createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes });
  delete older[JWT_FILES.signingKey];
  for (const [name, text] of Object.entries(older)) await writeFile(join(dataDir, name), text);

  const first = await startLocalCa(t, { dataDir });
  const after = await readAll(dataDir);
  assert.ok(after[JWT_FILES.signingKey]?.includes('BEGIN PRIVATE KEY'));
  for (const [name, text] of Object.entries(older)) assert.equal(after[name], text, `${name} is untouched`);
  const kid = await jwtWorks(first);
  await first.close();
  const second = await startLocalCa(t, { dataDir });
  assert.equal(await jwtWorks(second), kid, 'the same key after a restart');
});

test("an operator's plug-in folder gains a JWT key beside its files, which stay byte for byte as they were", async (t) => {
  const dataDir = await operatorCa();
  const before = await readAll(dataDir);
  const ca = await startLocalCa(t, { dataDir });
  const after = await readAll(dataDir);
  assert.deepEqual(Object.keys(after).sort(), [...Object.keys(before), JWT_FILES.signingKey].sort());
  for (const name of Object.values(PLUGIN_FILES)) assert.equal(after[name], before[name], `${name} is untouched`);
  await jwtWorks(ca);
});

test('a broken JWT key is refused at start with a message naming the file; nothing is rewritten', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['garbage', 'not a key', /jwt-signing-key\.pem is not a readable private key/],
    ['an RSA key', (await opensslCsr({ key: 'rsa:2048' })).key, /jwt-signing-key\.pem must be an ECDSA P-256 key/],
    ['a P-384 key', (await opensslCsr({ key: 'ec:P-384' })).key, /jwt-signing-key\.pem must be an ECDSA P-256 key/],
  ];
  for (const [what, pem, message] of cases) {
    const dataDir = await tempDir('jwt-broken-');
    const files = { ...createCaFiles({ trustDomain: 'cluster.local', now: Date.now(), random: randomBytes }), [JWT_FILES.signingKey]: pem };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dataDir, name), text);
    await assert.rejects(startControlPlane({ dataDir, local: true, caPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger }), message, what);
    assert.equal(await readFile(join(dataDir, JWT_FILES.signingKey), 'utf8'), pem, `${what}: left as it was`);
  }
});

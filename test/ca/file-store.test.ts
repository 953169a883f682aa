import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileCaStore } from '../../src/ca/file-store.js';
import { StoreConflictError } from '../../src/ca/store.js';
import { tempDir } from '../helpers/openssl.js';

const A = { 'ca-cert.pem': 'cert-a', 'ca-key.pem': 'key-a', 'cert-chain.pem': 'chain-a', 'root-cert.pem': 'root-a' };
const B = { ...A, 'ca-cert.pem': 'cert-b', 'ca-key.pem': 'key-b', 'rotation.json': '{}' };

test('write, read, optimistic concurrency and key file modes', async () => {
  const dir = await tempDir('store-');
  const store = new FileCaStore(dir);
  assert.equal(await store.read(), null);
  const v1 = await store.write(A, null);
  assert.deepEqual((await store.read())?.files, A);
  await assert.rejects(store.write(B, null), StoreConflictError, 'create when something is stored');
  const v2 = await store.write(B, v1.version);
  await assert.rejects(store.write(A, v1.version), StoreConflictError, 'stale version');
  assert.deepEqual((await store.read())?.files, B);
  assert.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'root-cert.pem'))).mode & 0o777, 0o644);
  await store.write(A, v2.version);
  assert.deepEqual(Object.keys((await store.read())!.files).sort(), Object.keys(A).sort(), 'files left out of a write are removed');
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), [], 'no journal or lock left behind');
});

test('two writers racing to create: exactly one wins', async () => {
  const dir = await tempDir('store-race-');
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => new FileCaStore(dir).write({ ...A, 'ca-cert.pem': `cert-${i}` }, null)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof StoreConflictError));
});

test('a crash after the commit marker is rolled forward; a crash before it is rolled back', async () => {
  const dir = await tempDir('store-crash-');
  const store = new FileCaStore(dir);
  await store.write(A, null);
  // Simulate a writer that died after committing: staged files and marker present, renames not done.
  await writeFile(join(dir, '.pending-aaaa-ca-cert.pem'), 'cert-b');
  await writeFile(join(dir, '.pending-aaaa-ca-key.pem'), 'key-b');
  await writeFile(join(dir, '.commit-aaaa'), JSON.stringify({ writes: ['ca-cert.pem', 'ca-key.pem'], deletes: ['cert-chain.pem'] }));
  const rolled = await store.read();
  assert.equal(rolled?.files['ca-cert.pem'], 'cert-b');
  assert.equal(rolled?.files['ca-key.pem'], 'key-b');
  assert.equal(rolled?.files['cert-chain.pem'], undefined);

  // A writer that died before committing: staged files only. The stored set is untouched.
  await writeFile(join(dir, '.pending-bbbb-ca-cert.pem'), 'cert-c');
  await writeFile(join(dir, '.ca-cert.pem.1234.tmp'), 'half');
  assert.equal((await store.read())?.files['ca-cert.pem'], 'cert-b');
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), []);
});

test('hostile folder contents: oversized files are refused by name, other files ignored, stale locks broken', async () => {
  const dir = await tempDir('store-hostile-');
  const store = new FileCaStore(dir);
  await store.write(A, null);
  await writeFile(join(dir, 'notes.txt'), 'operator notes');
  await writeFile(join(dir, '.lock'), '999999999');
  assert.deepEqual(Object.keys((await store.read())!.files).sort(), Object.keys(A).sort());
  await writeFile(join(dir, 'huge.pem'), Buffer.alloc(2 * 1024 * 1024, 65));
  await assert.rejects(store.read(), /huge.pem is larger than/);
  await assert.rejects(store.write({ '../escape.pem': 'x' }, null), /not allowed/);
  assert.equal(await readFile(join(dir, 'ca-cert.pem'), 'utf8'), 'cert-a');
});

test('watch reports a change made by another writer', async () => {
  const dir = await tempDir('store-watch-');
  const mine = new FileCaStore(dir, 20);
  const v = await mine.write(A, null);
  const seen: string[] = [];
  const stop = mine.watch((s) => seen.push(s.files['ca-cert.pem']!));
  await new Promise((r) => setTimeout(r, 60));
  await new FileCaStore(dir).write(B, v.version);
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  stop();
  assert.deepEqual(seen, ['cert-b']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { mintLocalToken } from '../../src/ca/auth/local-issuer.js';
import { FileCaStore } from '../../src/ca/file-store.js';
import { parseRotationState } from '../../src/ca/rotation/state.js';
import { JWT_FILES } from '../../src/ca/store.js';
import { ManualClock } from '../../src/common/clock.js';
import { meshid } from '../helpers/cli.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { fetchJwtBundle, fetchJwtSvid, localJwks } from '../helpers/jwt.js';

const MIN = 60_000;

test('through a root rotation (meshid ca rotate-root, the driver on a ManualClock): the JWKS holds both keys in the overlap, old JWTs verify until retire, new ones are signed by the new key from activate', async (t) => {
  // In the past, so serving certificates the CA renews as the clock moves are valid for the TLS client's real clock.
  const clock = new ManualClock(Date.now() - 3 * 60 * MIN);
  const ca = await startLocalCa(t, { clock, rotationTickMs: 20, workloadCertTtlMs: 60 * MIN, maxWorkloadCertTtlMs: 120 * MIN, bundlePropagationDelayMs: 5 * MIN });
  const roots = await ca.roots();
  const token = await mintLocalToken({ dataDir: ca.dataDir, namespace: 'shop', serviceAccount: 'cart', now: clock.now(), ttlSeconds: 86_400 });
  const store = new FileCaStore(ca.dataDir);
  const phase = async () => parseRotationState((await store.read())!.files).phase;
  const files = async () => (await store.read())!.files;
  const svid = async (audience = 'vault') => {
    const res = await fetchJwtSvid(ca.caUrl, { audience: [audience], ttlSeconds: 3600 }, { token, roots });
    assert.equal(res.status, 200, res.text);
    const jwt: string = res.json().token;
    return { jwt, kid: decodeProtectedHeader(jwt).kid!, at: new Date(decodeJwt(jwt).iat! * 1000 + 1000) };
  };
  const kids = async () => (await fetchJwtBundle(ca.caUrl, roots)).keys.map((k) => k.kid);
  const verifies = async (s: { jwt: string; at: Date }) => jwtVerify(s.jwt, await localJwks(ca.caUrl, roots), { audience: 'vault', currentDate: s.at });
  const until = async (what: string, cond: () => Promise<boolean>) => {
    for (const end = Date.now() + 10_000; !(await cond());) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const before = await svid();
  const oldKid = before.kid;
  assert.deepEqual(await kids(), [oldKid]);
  const oldKeyPem = (await files())[JWT_FILES.signingKey];

  const r = await meshid(['ca', 'rotate-root', '--data-dir', ca.dataDir]);
  assert.equal(r.code, 0, r.stderr);
  await until('prepare', async () => (await phase()) === 'prepare');
  const prepared = await files();
  assert.ok(prepared[JWT_FILES.nextSigningKey], 'the next JWT key is staged with the next CA');
  const overlap = await kids();
  assert.equal(overlap.length, 2, 'the new key is published at prepare, before it signs');
  assert.equal(overlap[0], oldKid);
  const newKid = overlap[1]!;
  const duringPrepare = await svid();
  assert.equal(duringPrepare.kid, oldKid, 'the old key signs until activate');
  assert.match((await meshid(['ca', 'status', '--data-dir', ca.dataDir])).stdout, new RegExp(`\\njwt .* ${newKid.slice(0, 23)} +published, signs from activate\\n`));

  clock.advance(5 * MIN);
  await until('activate', async () => (await phase()) === 'activate');
  const afterActivate = await svid();
  assert.equal(afterActivate.kid, newKid, 'the new key signs from activate');
  assert.deepEqual(new Set(await kids()), new Set([oldKid, newKid]), 'both keys are published until retire');
  const activated = await files();
  assert.equal(activated[JWT_FILES.nextSigningKey], undefined);
  assert.ok(activated[JWT_FILES.previousPublicKey]?.includes('BEGIN PUBLIC KEY'), 'only the public half of the old key is kept');
  assert.notEqual(activated[JWT_FILES.signingKey], oldKeyPem);
  const status = await meshid(['ca', 'status', '--data-dir', ca.dataDir]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`\\njwt +JWT-SVID key \\(ES256\\) +- +${newKid.slice(0, 23)} +published, signing\\n`));
  assert.match(status.stdout, new RegExp(`\\njwt +JWT-SVID key \\(ES256\\) +- +${oldKid.slice(0, 23)} +published until retire\\n`));
  for (const s of [before, duringPrepare, afterActivate]) assert.equal((await verifies(s)).payload.sub, 'spiffe://cluster.local/ns/shop/sa/cart');

  // Retire: once the last JWT-SVID (or leaf) the old CA's key signed has expired, as recorded, plus the margin.
  const report = JSON.parse((await meshid(['ca', 'status', '-o', 'json', '--data-dir', ca.dataDir])).stdout);
  const retireAt = Date.parse(report.rotation.retireExpectedAt);
  assert.ok(retireAt > decodeJwt(duringPrepare.jwt).exp! * 1000, 'retire waits for the old key\'s last JWT-SVID to expire');
  clock.advance(retireAt - clock.now() - 1);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(await phase(), 'activate', 'not a millisecond early');
  await verifies(duringPrepare);
  clock.advance(1);
  await until('the end of the rotation', async () => (await phase()) === 'idle');
  assert.deepEqual(await kids(), [newKid], 'the old key has left the JWKS');
  await assert.rejects(verifies(duringPrepare), errors.JWKSNoMatchingKey, 'a JWT of the old key no longer verifies');
  await verifies(afterActivate);
  const done = await files();
  assert.equal(done[JWT_FILES.previousPublicKey], undefined);
  assert.equal(done[JWT_FILES.nextSigningKey], undefined);
  assert.equal((await readFile(join(ca.dataDir, JWT_FILES.signingKey), 'utf8')), activated[JWT_FILES.signingKey]);
  assert.equal((await svid()).kid, newKid);
});

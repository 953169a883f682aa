import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { meshid } from '../helpers/cli.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { fetchJwtBundle, localJwks } from '../helpers/jwt.js';
import { agentConfig, startCa } from './helpers.js';
import { fromStruct, splitDer, workloadClient } from './workload-client.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';
const TD = 'spiffe://cluster.local';

let cp: ControlPlane;
let agent: RunningAgent;
/** The agent's clock runs this far ahead of the CA's: how a test reaches half-life and expiry without waiting. */
let skew = 0;
before(async () => {
  cp = await startCa();
  agent = await startAgent(await agentConfig(cp), { clock: { now: () => Date.now() + skew } });
  await agent.ready();
});
after(async () => {
  await agent.stop();
  await cp.close();
});

const refused = (pattern: RegExp) => (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && pattern.test(e.details);

test('FetchJWTSVID gives a JWT-SVID for the audience, cached per audience set until half-life; it validates with ValidateJWTSVID and with jose against GET /v1/jwt-bundle, which FetchJWTBundles serves keyed by trust domain', async () => {
  skew = 0;
  const c = workloadClient(agent.workload.socketPath);
  try {
    const res = await c.jwtSvid(['db', 'cache']);
    assert.equal(res.svids.length, 1);
    const { spiffe_id, svid } = res.svids[0]!;
    assert.equal(spiffe_id, ID);
    const claims = decodeJwt(svid);
    assert.equal(claims.sub, ID);
    assert.deepEqual([...(claims.aud as string[])].sort(), ['cache', 'db']);

    assert.equal((await c.jwtSvid(['cache', 'db', 'db'])).svids[0]!.svid, svid, 'the same audience set is served from the cache');
    const other = (await c.jwtSvid(['db'])).svids[0]!.svid;
    assert.notEqual(other, svid, 'another audience set is another JWT-SVID');

    const validated = await c.validate(svid, 'db');
    assert.equal(validated.spiffe_id, ID);
    const got = fromStruct(validated.claims);
    assert.equal(got.sub, ID);
    assert.equal(got.exp, claims.exp);
    assert.deepEqual(got.aud, claims.aud);

    const roots = await readFile(cp.trustBundlePath, 'utf8');
    const { payload } = await jwtVerify(svid, await localJwks(cp.caUrl, roots), { audience: 'cache' });
    assert.equal(payload.sub, ID, 'jose verifies it against the CA\'s JWKS');

    const b = c.jwtBundles();
    const bundles = (await b.next()).bundles;
    assert.deepEqual(Object.keys(bundles), [TD]);
    assert.deepEqual(JSON.parse(bundles[TD]!.toString()), await fetchJwtBundle(cp.caUrl, roots), 'the JWKS bytes of GET /v1/jwt-bundle');
    await b.silence(200);
    b.close();

    skew = (claims.exp! * 1000 - Date.now()) / 2 + 2000;
    const renewed = (await c.jwtSvid(['db', 'cache'])).svids[0]!.svid;
    assert.notEqual(renewed, svid, 'past half its life a new JWT-SVID is fetched');
  } finally {
    skew = 0;
    c.close();
  }
});

test('ValidateJWTSVID refuses another audience, an expired JWT-SVID, a foreign trust domain, an unknown key, alg none and garbage with INVALID_ARGUMENT', async () => {
  skew = 0;
  const c = workloadClient(agent.workload.socketPath);
  try {
    const svid = (await c.jwtSvid(['db'])).svids[0]!.svid;
    const roots = await readFile(cp.trustBundlePath, 'utf8');
    await assert.rejects(c.validate(svid, 'payments'), refused(/not for audience "payments"/));
    await assert.rejects(jwtVerify(svid, await localJwks(cp.caUrl, roots), { audience: 'payments' }), errors.JWTClaimValidationFailed);

    const exp = decodeJwt(svid).exp! * 1000;
    skew = exp - Date.now() + 1000;
    await assert.rejects(c.validate(svid, 'db'), refused(/has expired/));
    await assert.rejects(jwtVerify(svid, await localJwks(cp.caUrl, roots), { audience: 'db', currentDate: new Date(exp + 1000) }), errors.JWTExpired);
    skew = 0;

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forge = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'not-ours' }).setSubject(sub).setAudience('db').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    await assert.rejects(c.validate(await forge('spiffe://other.example/ns/a/sa/b'), 'db'), refused(/trust domain "other\.example"/));
    await assert.rejects(c.validate(await forge(ID), 'db'), refused(/not in the trust domain's JWT bundle/));
    const [, body] = svid.split('.');
    await assert.rejects(c.validate(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`, 'db'), refused(/algorithm is not one of/));
    await assert.rejects(c.validate(`${svid.slice(0, -4)}AAAA`, 'db'), refused(/signature does not verify/));
    await assert.rejects(c.validate('e30.e30.e30', 'db'), refused(/"sub" is not a SPIFFE ID/));
    await assert.rejects(c.validate(svid, ''), refused(/audience is required/));
    assert.equal((await c.validate(svid, 'db')).spiffe_id, ID, 'and the real one still validates');
  } finally {
    skew = 0;
    c.close();
  }
});

test('a root rotation (meshid ca rotate-root) is pushed on the open streams: FetchJWTBundles re-sends the JWKS with the staged key, FetchX509Bundles the bundle with the new root', async (t) => {
  const ca = await startLocalCa(t, { rotationTickMs: 20 });
  const rotating = await startAgent({ ...(await agentConfig(ca)), bundlePollMs: 100 });
  t.after(() => rotating.stop());
  await rotating.ready();
  const c = workloadClient(rotating.workload.socketPath);
  t.after(() => c.close());
  const jwt = c.jwtBundles();
  const x509 = c.x509Bundles();
  const keys = async () => JSON.parse((await jwt.next(15_000)).bundles[TD]!.toString()).keys as Array<{ kid: string }>;
  const first = await keys();
  assert.equal(first.length, 1);
  const firstRoots = splitDer((await x509.next()).bundles[TD]!);
  assert.equal(firstRoots.length, 1);

  const r = await meshid(['ca', 'rotate-root', '--data-dir', ca.dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const staged = await keys();
  assert.deepEqual(staged.map((k) => k.kid).slice(0, 1), [first[0]!.kid]);
  assert.equal(staged.length, 2, 'the next JWT key is published at prepare, and pushed');
  const rotatedRoots = splitDer((await x509.next(15_000)).bundles[TD]!).map((d) => new X509Certificate(d));
  assert.equal(rotatedRoots.length, 2, 'the new root joins the bundle');
  assert.ok(rotatedRoots.some((root) => root.raw.equals(firstRoots[0]!)), 'the old root stays');
});

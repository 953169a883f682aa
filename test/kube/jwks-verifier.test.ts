import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { httpJwksFetcher, JwksVerifier } from '../../src/ca/auth/jwks-verifier.js';
import { ManualClock } from '../../src/common/clock.js';
import { isMeshidError } from '../../src/common/errors.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
type Key = { kid: string; alg: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; jwk: JWK };

async function makeKey(kid: string, alg: 'RS256' | 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function rejectsWith(code: string, status = 401) {
  return (err: unknown) => {
    assert.ok(isMeshidError(err), `expected a MeshidError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return true;
  };
}

describe('JwksVerifier against a JWKS served over HTTP', () => {
  let server: Server;
  let published: JWK[] = [];
  let fetches = 0;
  let url = '';
  let rsa: Key;
  let ec: Key;
  let rotated: Key;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const nowSec = (): number => Math.floor(clock.now() / 1000);

  const sign = (key: Key, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number; nbf?: number; sub?: string } = {}) =>
    new SignJWT({
      'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart', uid: 'sa-uid' }, pod: { name: 'cart-0', uid: 'pod-uid' } },
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? 'meshid-ca')
      .setSubject(opts.sub ?? 'system:serviceaccount:shop:cart')
      .setIssuedAt(nowSec())
      .setNotBefore(opts.nbf ?? nowSec())
      .setExpirationTime(opts.exp ?? nowSec() + 3600)
      .sign(key.privateKey);

  const verifier = (minRefreshIntervalMs = 30_000) =>
    new JwksVerifier({ fetchJwks: httpJwksFetcher(url), issuer: ISSUER, clock, minRefreshIntervalMs, maxAgeMs: 600_000, leewaySeconds: 0 });

  before(async () => {
    [rsa, ec, rotated] = await Promise.all([makeKey('rsa-1', 'RS256'), makeKey('ec-1', 'ES256'), makeKey('rsa-2', 'RS256')]);
    published = [rsa.jwk, ec.jwk];
    server = createServer((req, res) => {
      if (req.url !== '/openid/v1/jwks') return void res.writeHead(404).end();
      fetches++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts valid RS256 and ES256 tokens, naming the service account and pod, with one fetch for both', async () => {
    const v = verifier();
    fetches = 0;
    const a = await v.verify(await sign(rsa));
    const b = await v.verify(await sign(ec));
    assert.deepEqual(a, { namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'pod-uid' }, expiresAt: (nowSec() + 3600) * 1000 });
    assert.equal(b.serviceAccount, 'cart');
    assert.equal(fetches, 1);
  });

  it('refetches on an unknown kid (the issuer rotated its key), but no more often than the floor', async () => {
    const v = verifier(30_000);
    fetches = 0;
    await v.verify(await sign(rsa));
    published = [rsa.jwk, ec.jwk, rotated.jwk];
    clock.advance(30_000);
    assert.equal((await v.verify(await sign(rotated))).namespace, 'shop');
    assert.equal(fetches, 2);

    const stranger = await makeKey('nobody', 'RS256');
    await assert.rejects(v.verify(await sign(stranger)), rejectsWith('token_key_unknown'));
    assert.equal(fetches, 2, 'within the floor: no fetch');
    const burst = await Promise.all(Array.from({ length: 20 }, async () => v.verify(await sign(stranger)).catch(() => 'rejected')));
    assert.ok(burst.every((r) => r === 'rejected'));
    assert.equal(fetches, 2, 'a burst of unknown kids does not reach the issuer');
    clock.advance(30_000);
    await assert.rejects(v.verify(await sign(stranger)), rejectsWith('token_key_unknown'));
    assert.equal(fetches, 3, 'after the floor, an unknown kid fetches again');
  });

  it('rejects expired and not-yet-valid tokens by the injected clock', async () => {
    const v = verifier();
    await assert.rejects(v.verify(await sign(rsa, {}, { exp: nowSec() - 1 })), rejectsWith('token_expired'));
    await assert.rejects(v.verify(await sign(rsa, {}, { nbf: nowSec() + 60 })), rejectsWith('token_not_yet_valid'));
  });

  it('rejects a wrong audience and a wrong issuer', async () => {
    const v = verifier();
    await assert.rejects(v.verify(await sign(rsa, {}, { aud: 'https://kubernetes.default.svc' })), rejectsWith('token_audience_invalid'));
    await assert.rejects(v.verify(await sign(rsa, {}, { iss: 'https://evil.example' })), rejectsWith('token_issuer_invalid'));
  });

  it('rejects alg none, an HMAC token using a published kid, a forged signature, garbage and oversized tokens, without echoing the token', async () => {
    const v = verifier();
    const unsigned = new UnsecuredJWT({ sub: 'system:serviceaccount:shop:cart' }).setIssuer(ISSUER).setAudience('meshid-ca').setExpirationTime(nowSec() + 60).encode();
    await assert.rejects(v.verify(unsigned), rejectsWith('token_algorithm_not_allowed'));
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).setSubject('system:serviceaccount:shop:cart')
      .setIssuer(ISSUER).setAudience('meshid-ca').setExpirationTime(nowSec() + 60).sign(new TextEncoder().encode('x'.repeat(32)));
    await assert.rejects(v.verify(hmac), rejectsWith('token_algorithm_not_allowed'));
    const good = await sign(rsa);
    const forged = `${good.split('.').slice(0, 2).join('.')}.${(await sign(rsa, { extra: 1 })).split('.')[2]}`;
    await assert.rejects(v.verify(forged), (err) => rejectsWith('token_signature_invalid')(err) && !(err as Error).message.includes(forged.slice(-20)));
    for (const garbage of ['', 'abc', 'a.b.c', '....', '\u0000']) await assert.rejects(v.verify(garbage), rejectsWith('token_malformed'));
    await assert.rejects(v.verify(`${good}${'A'.repeat(8 * 1024)}`), rejectsWith('token_invalid'), 'the same 8 KB cap as the local verifier');
  });

  it('rejects a token whose subject is not a service account, or whose kubernetes.io block disagrees', async () => {
    const v = verifier();
    await assert.rejects(v.verify(await sign(rsa, {}, { sub: 'admin' })), rejectsWith('token_not_service_account'));
    await assert.rejects(v.verify(await sign(rsa, { 'kubernetes.io': { namespace: 'other', serviceaccount: { name: 'cart' } } })), rejectsWith('token_claims_invalid'));
  });

  it('answers 503 when the key set cannot be fetched at all', async () => {
    const down = new JwksVerifier({ fetchJwks: httpJwksFetcher(`${url}-missing`), issuer: ISSUER, clock });
    await assert.rejects(down.verify(await sign(rsa)), rejectsWith('jwks_unavailable', 503));

  });

  it('past max age, serves cached keys while it refetches in the background, at most once per floor, until the grace ends', async () => {
    let fetchCalls = 0;
    let hang: { reject: (err: Error) => void } | null = null;
    let up = true;
    const fetchJwks = async () => {
      fetchCalls++;
      if (up) return { keys: published };
      // A down issuer that answers nothing: the request that started the fetch must not wait for it.
      return new Promise((_, reject) => { hang = { reject }; });
    };
    const flaky = new JwksVerifier({ fetchJwks, issuer: ISSUER, clock, maxAgeMs: 1000, minRefreshIntervalMs: 30_000, staleGraceMs: 60_000 });
    await flaky.verify(await sign(rsa));
    assert.equal(fetchCalls, 1);
    up = false;
    clock.advance(30_000);
    assert.equal((await flaky.verify(await sign(rsa))).serviceAccount, 'cart', 'answered from the cache while the fetch hangs');
    assert.equal(fetchCalls, 2, 'one background fetch');
    const burst = await Promise.all(Array.from({ length: 20 }, async () => (await flaky.verify(await sign(rsa))).serviceAccount));
    assert.ok(burst.every((sa) => sa === 'cart'));
    assert.equal(fetchCalls, 2, 'no request starts another fetch within the floor');
    hang!.reject(new Error('connection timed out'));

    clock.advance(30_000);
    await flaky.verify(await sign(rsa));
    assert.equal(fetchCalls, 3, 'after the floor, one more background fetch');
    hang!.reject(new Error('connection timed out'));

    clock.advance(30_000);
    const pastGrace = flaky.verify(await sign(rsa));
    hang!.reject(new Error('connection timed out'));
    await assert.rejects(pastGrace, (err) => rejectsWith('jwks_unavailable', 503)(err) && /connection timed out/.test((err as Error).message));
    assert.equal(fetchCalls, 4);
    await assert.rejects(flaky.verify(await sign(rsa)), rejectsWith('jwks_unavailable', 503), 'within the floor: refused without a fetch');
    assert.equal(fetchCalls, 4);

    up = true;
    clock.advance(30_000);
    assert.equal((await flaky.verify(await sign(rsa))).serviceAccount, 'cart', 'the issuer is back: the next request after the floor fetches and passes');
    assert.equal(fetchCalls, 5);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { CompactSign, SignJWT } from 'jose';
import { ManualClock } from '../../src/common/clock.js';
import { MeshidError } from '../../src/common/errors.js';
import { jwtVerifier } from '../../src/ca/auth/jwt-verifier.js';

const ISSUER = 'https://issuer.test';
const clock = new ManualClock();
const now = () => Math.floor(clock.now() / 1000);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER, aud: ['meshid-ca'], sub: 'system:serviceaccount:shop:cart', iat: now(), nbf: now(), exp: now() + 600, ...extra,
});
const mint = (key: KeyObject, alg: string, body: Record<string, unknown> = claims()) => new SignJWT(body).setProtectedHeader({ alg }).sign(key);

async function code(verifierKey: KeyObject, algorithms: string[], token: string): Promise<string> {
  try {
    const caller = await jwtVerifier({ key: verifierKey, issuer: ISSUER, algorithms, clock, leewaySeconds: 30 }).verify(token);
    return `${caller.namespace}/${caller.serviceAccount}`;
  } catch (err) {
    assert.ok(err instanceof MeshidError && err.status === 401, `expected a 401 MeshidError, got ${(err as Error)?.stack}`);
    assert.ok(!err.message.includes(token.split('.')[2]!), 'the message never echoes the token');
    return err.code;
  }
}

test('RS256, PS256 and ES256 tokens verify with jose against the issuer key', async () => {
  assert.equal(await code(rsa.publicKey, ['RS256', 'PS256'], await mint(rsa.privateKey, 'RS256')), 'shop/cart');
  assert.equal(await code(rsa.publicKey, ['RS256', 'PS256'], await mint(rsa.privateKey, 'PS256')), 'shop/cart');
  assert.equal(await code(ec.publicKey, ['ES256'], await mint(ec.privateKey, 'ES256')), 'shop/cart');
  assert.equal(await code(rsa.publicKey, ['RS256'], await mint(rsa.privateKey, 'RS256', claims({ aud: 'meshid-ca' }))), 'shop/cart', 'aud as a single string');
});

test('algorithms outside the allow-list or not fitting the key are refused before any signature check', async () => {
  assert.equal(await code(rsa.publicKey, ['RS256'], await mint(rsa.privateKey, 'PS256')), 'token_algorithm_not_allowed');
  assert.equal(await code(rsa.publicKey, ['RS256', 'ES256'], await mint(ec.privateKey, 'ES256')), 'token_algorithm_not_allowed');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const critSigned = `${b64({ alg: 'RS256', crit: ['x-meshid'], 'x-meshid': 1 })}.${b64(claims())}`;
  const crit = `${critSigned}.${sign('sha256', Buffer.from(critSigned), rsa.privateKey).toString('base64url')}`;
  assert.equal(await code(rsa.publicKey, ['RS256'], crit), 'token_malformed', 'a critical header parameter nobody here understands');
  assert.throws(() => jwtVerifier({ key: rsa.publicKey, issuer: ISSUER, algorithms: ['HS256'], clock }), /not supported/);
  assert.throws(() => jwtVerifier({ key: ec.publicKey, issuer: ISSUER, algorithms: ['RS256'], clock }), /fits the issuer's ec key/);
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  assert.throws(() => jwtVerifier({ key: weak, issuer: ISSUER, algorithms: ['RS256'], clock }), /below 2048/);
});

test('signatures that are altered, truncated or from another key fail; undecodable parts are malformed', async () => {
  const good = await mint(rsa.privateKey, 'RS256');
  const [h, p, s] = good.split('.') as [string, string, string];
  const other = await mint(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256');
  assert.equal(await code(rsa.publicKey, ['RS256'], other), 'token_signature_invalid');
  assert.equal(await code(rsa.publicKey, ['RS256'], `${h}.${p}.${s.slice(0, 40)}`), 'token_signature_invalid');
  assert.equal(await code(rsa.publicKey, ['RS256'], `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'system:serviceaccount:kube-system:admin' }))).toString('base64url')}.${s}`), 'token_signature_invalid');
  const es = await mint(ec.privateKey, 'ES256');
  assert.equal(await code(ec.publicKey, ['ES256'], `${es.slice(0, es.lastIndexOf('.'))}.AAAA`), 'token_signature_invalid');
  assert.equal(await code(rsa.publicKey, ['RS256'], `bm90LWpzb24.${p}.${s}`), 'token_malformed');
  const arrayPayload = await new CompactSign(Buffer.from('[1]')).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.equal(await code(rsa.publicKey, ['RS256'], arrayPayload), 'token_malformed', 'a signed payload that is not a JSON object');
});

test('registered claims: issuer, audience, expiry and not-before with leeway, required exp and sub, numeric dates', async () => {
  const check = async (c: Record<string, unknown>) => code(rsa.publicKey, ['RS256'], await mint(rsa.privateKey, 'RS256', c));
  assert.equal(await check(claims({ iss: 'https://evil.test' })), 'token_issuer_invalid');
  assert.equal(await check(claims({ aud: ['kubernetes', 'vault'] })), 'token_audience_invalid');
  assert.equal(await check(claims({ aud: undefined })), 'token_audience_invalid');
  assert.equal(await check(claims({ exp: now() - 20 })), 'shop/cart', 'expired within the 30 s leeway');
  assert.equal(await check(claims({ exp: now() - 31 })), 'token_expired');
  assert.equal(await check(claims({ nbf: now() + 20 })), 'shop/cart', 'not-before within the leeway');
  assert.equal(await check(claims({ nbf: now() + 31 })), 'token_not_yet_valid');
  assert.equal(await check(claims({ exp: undefined })), 'token_claims_invalid');
  assert.equal(await check(claims({ exp: 'tomorrow' })), 'token_claims_invalid');
  assert.equal(await check(claims({ iat: '1' })), 'token_claims_invalid');
  assert.equal(await check(claims({ sub: undefined })), 'token_claims_invalid');
  assert.equal(await check(claims({ sub: 'system:node:worker-1' })), 'token_not_service_account');
});

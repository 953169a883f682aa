import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import * as grpcMetadata from '@grpc/grpc-js';
import { audienceKey, jwtRefreshAt, JwtSvidCache } from '../../src/agent/jwt-svid-cache.js';
import { ManualClock } from '../../src/common/clock.js';
import { toStruct } from '../../src/agent/proto-struct.js';
import { audienceProblem, headerProblem } from '../../src/agent/workload-api.js';
import { workloadService } from '../../src/agent/workload-protos.js';
import { fromStruct, toCamelStruct, WORKLOAD_PROTO } from './workload-client.js';

const claims = { sub: 'spiffe://cluster.local/ns/shop/sa/web', aud: ['db', 'cache'], exp: 1767225600, iat: 1767222000.5, nested: { ok: true, none: null, list: [1, 'two', { three: 3 }] } };

/** One message per method, every field set, both ways. */
const SAMPLES: Record<string, { request: object; response: object }> = {
  FetchX509SVID: {
    request: {},
    response: {
      svids: [{ spiffe_id: 'spiffe://cluster.local/ns/shop/sa/web', x509_svid: Buffer.from([0x30, 1, 2]), x509_svid_key: Buffer.from([0x30, 3]), bundle: Buffer.from([0x30, 4]), hint: 'internal' }],
      crl: [Buffer.from([9])],
      federated_bundles: { 'spiffe://other.example': Buffer.from([0x30, 5]) },
    },
  },
  FetchX509Bundles: { request: {}, response: { crl: [Buffer.from([7])], bundles: { 'spiffe://cluster.local': Buffer.from([0x30, 6]) } } },
  FetchJWTSVID: { request: { audience: ['db', 'cache'], spiffe_id: 'spiffe://cluster.local/ns/shop/sa/web' }, response: { svids: [{ spiffe_id: 'spiffe://cluster.local/ns/shop/sa/web', svid: 'a.b.c', hint: 'x' }] } },
  FetchJWTBundles: { request: {}, response: { bundles: { 'spiffe://cluster.local': Buffer.from('{"keys":[]}') } } },
  ValidateJWTSVID: { request: { audience: 'db', svid: 'a.b.c' }, response: { spiffe_id: 'spiffe://cluster.local/ns/shop/sa/web', claims: toStruct(claims) } },
};

test('the agent\'s Workload API descriptor encodes every message as the standard\'s .proto does, on the same paths', () => {
  const standard = loadSync(WORKLOAD_PROTO, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false }).SpiffeWorkloadAPI as grpc.ServiceDefinition;
  const ours = workloadService();
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(standard).sort());
  for (const [name, theirs] of Object.entries(standard)) {
    const mine = ours[name]!;
    const shape = (m: grpc.MethodDefinition<object, object>) => ({ path: m.path, requestStream: m.requestStream, responseStream: m.responseStream });
    assert.deepEqual(shape(mine), shape(theirs), name);
    assert.ok(/^\/SpiffeWorkloadAPI\//.test(mine.path), 'no package, as in the standard');
    const { request, response } = SAMPLES[name]!;
    const theirResponse = name === 'ValidateJWTSVID' ? { ...response, claims: toCamelStruct(claims) } : response;
    assert.deepEqual(mine.requestSerialize(request), theirs.requestSerialize(request), `${name} request bytes`);
    assert.deepEqual(mine.responseSerialize(response), theirs.responseSerialize(theirResponse), `${name} response bytes`);
    assert.deepEqual(mine.requestDeserialize(theirs.requestSerialize(request)), theirs.requestDeserialize(theirs.requestSerialize(request)), `${name} request decoded`);
  }
  const decoded = standard.ValidateJWTSVID!.responseDeserialize(ours.ValidateJWTSVID!.responseSerialize(SAMPLES.ValidateJWTSVID!.response)) as { claims: object };
  assert.deepEqual(fromStruct(decoded.claims), claims, 'claims survive as google.protobuf.Struct');
});

test('the header rule, audience checks and the JWT-SVID cache\'s key and half-life', () => {
  const md = (...values: string[]) => {
    const m = new grpcMetadata.Metadata();
    for (const v of values) m.add('workload.spiffe.io', v);
    return m;
  };
  assert.equal(headerProblem(md('true')), null);
  assert.match(headerProblem(md())!, /is required/);
  for (const bad of [['TRUE'], ['1'], [''], ['true', 'true']]) assert.match(headerProblem(md(...bad))!, /exactly "true"/, JSON.stringify(bad));
  assert.equal(audienceProblem(['db']), null);
  assert.match(audienceProblem(undefined)!, /audience is required/);
  assert.match(audienceProblem(['a', ''])!, /1 to 256 characters/);
  assert.deepEqual(audienceKey(['b', 'a', 'b']), { key: '["a","b"]', audience: ['a', 'b'] });
  assert.equal(audienceKey(['a', 'b']).key, audienceKey(['b', 'a']).key);
  assert.equal(jwtRefreshAt(1000, 5000), 3000);
  assert.equal(jwtRefreshAt(5000, 1000), 5000, 'an expired grant is due at once');
});

test('the JWT-SVID cache: concurrent asks share one CA call, a grant is reused until half its life, and at most 64 audience sets are kept', async () => {
  const clock = new ManualClock(1_000_000);
  const calls: string[][] = [];
  const cache = new JwtSvidCache(async (audience) => {
    calls.push(audience);
    await new Promise((r) => setImmediate(r));
    return { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', token: `t${calls.length}`, expiresAt: clock.now() + 300_000 };
  }, clock);
  const [a, b] = await Promise.all([cache.get(['db']), cache.get(['db', 'db'])]);
  assert.equal(a, b);
  assert.equal(calls.length, 1, 'one CA call for both');
  clock.advance(149_000);
  assert.equal((await cache.get(['db'])).token, 't1', 'before half-life: cached');
  clock.advance(2_000);
  assert.equal((await cache.get(['db'])).token, 't2', 'past half-life: fetched again');
  for (let i = 0; i < 100; i++) await cache.get([`aud-${i}`]);
  assert.equal(cache.size, 64);
  const failing = new JwtSvidCache(async () => { throw new Error('CA down'); }, clock);
  await assert.rejects(failing.get(['db']), /CA down/);
  await assert.rejects(failing.get(['db']), /CA down/, 'a failure is not cached');
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Caller, TokenVerifier } from '../../src/ca/auth/verifier.js';
import { isMeshidError } from '../../src/common/errors.js';
import { createKubeClients } from '../../src/kube/client.js';
import { PodBoundVerifier } from '../../src/kube/pod-check.js';
import { TokenReviewVerifier } from '../../src/kube/token-review.js';
import { FakeKube } from '../helpers/fake-kube.js';

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
/** Shaped like a projected token; only the API server (the fake's reviewer) decides whether it is valid. */
const token = (exp: number): string => `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ exp, sub: 'system:serviceaccount:shop:cart' })}.c2ln`;
const EXP = 1_900_000_000;

function rejectsWith(code: string, status = 401) {
  return (err: unknown) => isMeshidError(err) && err.code === code && err.status === status && !err.message.includes('c2ln');
}

describe('TokenReviewVerifier', () => {
  let fake: FakeKube;
  let verifier: TokenReviewVerifier;
  const reviews: Array<{ token: string; audiences: string[] }> = [];

  before(async () => {
    fake = await FakeKube.start();
    fake.tokenReview = (tok, audiences) => {
      reviews.push({ token: tok, audiences });
      if (tok === 'revoked') return { authenticated: false, error: `token ${tok} is revoked` };
      if (tok === 'other-audience') return { authenticated: true, audiences: [], user: { username: 'system:serviceaccount:shop:cart' } };
      if (tok === 'human') return { authenticated: true, audiences, user: { username: 'alice@example.com' } };
      if (tok === 'unbound') return { authenticated: true, audiences, user: { username: 'system:serviceaccount:shop:legacy' } };
      return {
        authenticated: true,
        audiences,
        user: {
          username: 'system:serviceaccount:shop:cart',
          extra: { 'authentication.kubernetes.io/pod-name': ['cart-0'], 'authentication.kubernetes.io/pod-uid': ['uid-cart-0'] },
        },
      };
    };
    verifier = new TokenReviewVerifier({ authentication: createKubeClients(fake.kubeConfig()).authentication });
  });
  after(() => fake.close());

  it('accepts a token the API server authenticates for meshid-ca, with pod binding and expiry', async () => {
    const caller = await verifier.verify(token(EXP));
    assert.deepEqual(caller, { namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'uid-cart-0' }, expiresAt: EXP * 1000 });
    assert.deepEqual(reviews.at(-1), { token: token(EXP), audiences: ['meshid-ca'] });
  });

  it('rejects what the API server rejects, another audience, and non-service-account users, without echoing the server error', async () => {
    await assert.rejects(verifier.verify('revoked'), (err) => rejectsWith('token_rejected')(err) && !(err as Error).message.includes('revoked'));
    await assert.rejects(verifier.verify('other-audience'), rejectsWith('token_audience_invalid'));
    await assert.rejects(verifier.verify('human'), rejectsWith('token_not_service_account'));
    await assert.rejects(verifier.verify(''), rejectsWith('token_malformed'));
  });

  it('answers 503, not 401, when the API server cannot be asked', async () => {
    fake.forbid = (call) => call.resource === 'tokenreviews';
    try {
      await assert.rejects(verifier.verify(token(EXP)), rejectsWith('token_review_unavailable', 503));
    } finally {
      fake.forbid = () => false;
    }
  });

  describe('PodBoundVerifier', () => {
    const podCheck = (requirePodBinding = false): PodBoundVerifier =>
      new PodBoundVerifier({ inner: verifier, core: createKubeClients(fake.kubeConfig()).core, requirePodBinding });

    it('passes a token whose pod still exists with the same uid', async () => {
      fake.put('pods', { metadata: { name: 'cart-0', namespace: 'shop', uid: 'uid-cart-0' } });
      assert.equal((await podCheck().verify(token(EXP))).pod?.name, 'cart-0');
    });

    it('refuses a token whose pod was deleted, or replaced by a pod of the same name', async () => {
      fake.remove('pods', 'shop', 'cart-0');
      await assert.rejects(podCheck().verify(token(EXP)), rejectsWith('pod_not_found'));
      fake.put('pods', { metadata: { name: 'cart-0', namespace: 'shop', uid: 'uid-cart-0-again' } });
      await assert.rejects(podCheck().verify(token(EXP)), rejectsWith('pod_not_found'));
    });

    it('lets an unbound token through unless pod binding is required', async () => {
      assert.equal((await podCheck(false).verify('unbound')).serviceAccount, 'legacy');
      await assert.rejects(podCheck(true).verify('unbound'), rejectsWith('token_not_pod_bound'));
    });

    it('does not look up the pod when the inner verifier already refused', async () => {
      const before = fake.calls.filter((c) => c.resource === 'pods').length;
      const refusing: TokenVerifier = { verify: async (): Promise<Caller> => { throw new Error('refused'); } };
      await assert.rejects(new PodBoundVerifier({ inner: refusing, core: createKubeClients(fake.kubeConfig()).core }).verify('x'), /refused/);
      assert.equal(fake.calls.filter((c) => c.resource === 'pods').length, before);
    });
  });
});

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { describe, it } from 'node:test';
import { VIEW_PATH } from '../../src/ca/view-api.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { captureLogger } from '../agent/helpers.js';
import { startFakeCluster, startReplica, type FakeCluster } from '../helpers/fake-cluster.js';
import { send, type Response } from '../helpers/http.js';
import { podObject, policyObject } from '../helpers/mesh-objects.js';

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function viewUrl(cp: ControlPlane, query: Record<string, string>): string {
  return `${cp.caUrl}${VIEW_PATH}?${new URLSearchParams(query)}`;
}

function getView(cp: ControlPlane, token: string | undefined, query: Record<string, string>): Promise<Response> {
  return send(viewUrl(cp, query), { ca: cp.authority.current().roots, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

async function setUp(t: { after(fn: () => unknown): void }, cluster?: FakeCluster) {
  cluster ??= await startFakeCluster(t);
  const { fake } = cluster;
  fake.put('pods', podObject('shop', 'web-1', { sa: 'web', ips: ['10.0.0.1'] }) as never);
  fake.put('pods', podObject('shop', 'cart-1', { sa: 'cart', ips: ['10.0.0.2'] }) as never);
  const log = captureLogger();
  const cp = await startReplica(t, fake, { identity: 'meshid-0', logger: log.logger });
  const web = await cluster.token({ namespace: 'shop', serviceAccount: 'web', pod: { name: 'web-1', uid: 'uid-shop-web-1' } });
  let first: Response;
  do first = await getView(cp, web, { pod: 'web-1' }); while (first.status === 503 && (await new Promise((r) => setTimeout(r, 20)), true));
  return { cluster, fake, cp, web, log, first };
}

describe('GET /v1/workload-view: the mesh view delivered to each agent over the CA port', () => {
  it('a full view, then deltas by long-poll: a change in the API reaches the waiting client within 2 s', async (t) => {
    const { fake, cp, web, first } = await setUp(t);
    assert.equal(first.status, 200, first.text);
    const full = first.json();
    assert.equal(full.full, true);
    assert.equal(full.pod.name, 'web-1');
    assert.deepEqual(full.upserts.map((d: any) => [d.address, d.identities]), [['10.0.0.1', [id('shop', 'web')]], ['10.0.0.2', [id('shop', 'cart')]]]);
    assert.match(full.version, /^[0-9a-z]+:\d+$/);

    const waiting = getView(cp, web, { pod: 'web-1', since: full.version, waitSeconds: '10' });
    await new Promise((r) => setTimeout(r, 200));
    const changedAt = performance.now();
    fake.put('pods', podObject('blog', 'post-1', { sa: 'post', ips: ['10.0.1.1'] }) as never);
    const delta = await waiting;
    const ms = performance.now() - changedAt;
    assert.equal(delta.status, 200, delta.text);
    assert.ok(ms < 2000, `delivered in ${ms.toFixed(0)} ms`);
    assert.deepEqual(delta.json(), { version: delta.json().version, full: false, upserts: [{ address: '10.0.1.1', port: null, identities: [id('blog', 'post')] }], removes: [] });

    const idle = await getView(cp, web, { pod: 'web-1', since: delta.json().version, waitSeconds: '1' });
    assert.equal(idle.status, 204, 'nothing new: 204 after the wait');
  });

  it('a burst of changes (a rollout) is one answer per waiting agent, not one per change', async (t) => {
    const { fake, cp, web, first } = await setUp(t);
    const waiting = getView(cp, web, { pod: 'web-1', since: first.json().version, waitSeconds: '10' });
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 5; i++) fake.put('pods', podObject('blog', `post-${i}`, { sa: 'post', ips: [`10.0.1.${i + 1}`] }) as never);
    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json().upserts.map((d: any) => d.address), ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5']);
  });

  it('resumes after a disconnect with since=: what changed meanwhile comes as one delta', async (t) => {
    const { fake, cp, web, first } = await setUp(t);
    const version = first.json().version;
    await new Promise<void>((resolve) => {
      const req = request(viewUrl(cp, { pod: 'web-1', since: version }), { ca: cp.authority.current().roots, headers: { authorization: `Bearer ${web}` } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    fake.remove('pods', 'shop', 'cart-1');
    fake.put('pods', podObject('blog', 'post-1', { sa: 'post', ips: ['10.0.1.1'] }) as never);
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'deny-all', {}) as never);
    await new Promise((r) => setTimeout(r, 300));
    const resumed = await getView(cp, web, { pod: 'web-1', since: version, waitSeconds: '5' });
    assert.equal(resumed.status, 200);
    const d = resumed.json();
    assert.equal(d.full, false);
    assert.deepEqual(d.removes, ['10.0.0.2']);
    assert.deepEqual(d.upserts.map((x: any) => x.address), ['10.0.1.1']);
    assert.deepEqual(d.authorizationPolicies, [{ namespace: 'shop', name: 'deny-all', spec: {} }]);
  });

  it('a control plane restart is a new epoch: the old version gets a full view', async (t) => {
    const a = await setUp(t);
    const old = a.first.json().version as string;
    await a.cp.close();
    const b = await setUp(t, a.cluster);
    const again = await getView(b.cp, b.web, { pod: 'web-1', since: old });
    assert.equal(again.status, 200);
    assert.equal(again.json().full, true);
    assert.notEqual(again.json().version.split(':')[0], old.split(':')[0]);
  });

  it('a workload reads only its own pod\'s view: 403 for another pod, 401 without a token, 400 for a bad query', async (t) => {
    const { cluster, cp, web } = await setUp(t);
    const other = await getView(cp, web, { pod: 'cart-1' });
    assert.equal(other.status, 403);
    assert.equal(other.json().error.code, 'view_forbidden');
    const unbound = await cluster.token({ namespace: 'shop', serviceAccount: 'cart' });
    assert.equal((await getView(cp, unbound, { pod: 'cart-1' })).status, 200, 'an unbound token: a pod of its namespace and service account');
    const wrongSa = await getView(cp, unbound, { pod: 'web-1' });
    assert.equal(wrongSa.status, 403);
    assert.match(wrongSa.json().error.message, /does not run as service account cart/);
    const elsewhere = await cluster.token({ namespace: 'blog', serviceAccount: 'web' });
    assert.equal((await getView(cp, elsewhere, { pod: 'web-1' })).status, 404, 'another namespace\'s pod of that name is not visible');
    const none = await getView(cp, undefined, { pod: 'web-1' });
    assert.equal(none.status, 401);
    assert.equal(none.json().error.code, 'token_missing');
    const forged = await getView(cp, `${web.slice(0, -4)}AAAA`, { pod: 'web-1' });
    assert.equal(forged.status, 401);
    for (const q of [{}, { pod: 'Web_1' }, { pod: 'web-1', extra: 'x' }, { pod: 'web-1', waitSeconds: 'soon' }]) {
      const bad = await getView(cp, web, q as Record<string, string>);
      assert.equal(bad.status, 400, JSON.stringify(q));
      assert.equal(bad.json().error.code, 'invalid_request');
    }
  });

  it('a hostile CRD object reaches no agent: logged once, the last good policy stays in the view', async (t) => {
    const { fake, cp, web, first, log } = await setUp(t);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'shop', 'strict', { mtls: { mode: 'STRICT' } }) as never);
    const good = await getView(cp, web, { pod: 'web-1', since: first.json().version, waitSeconds: '5' });
    assert.deepEqual(good.json().peerAuthentications, [{ namespace: 'shop', name: 'strict', spec: { mtls: { mode: 'STRICT' } } }]);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'shop', 'strict', { mtls: { mode: 'OFF' } }) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'shop', 'strict', { mtls: { mode: 'OFF' } }) as never);
    const after = await getView(cp, web, { pod: 'web-1', since: good.json().version, waitSeconds: '1' });
    assert.equal(after.status, 204, 'nothing reaches the agent');
    const view = (await getView(cp, web, { pod: 'web-1' })).json();
    assert.deepEqual(view.peerAuthentications, [{ namespace: 'shop', name: 'strict', spec: { mtls: { mode: 'STRICT' } } }]);
    const lines = log.lines().filter((l) => String(l.msg).includes('PeerAuthentication shop/strict ignored'));
    assert.equal(lines.length, 1, 'logged once');
    assert.equal(lines[0]!.level, 40);
  });
});

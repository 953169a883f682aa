import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fetchOnce } from '../../src/agent/agent.js';
import { parseRetryAfter } from '../../src/agent/ca-client.js';
import { retryAfterDelay } from '../../src/agent/rotation.js';
import { InFlightLimit, retryAfterSeconds } from '../../src/ca/overload.js';
import { ManualClock } from '../../src/common/clock.js';
import { agentConfig } from '../agent/helpers.js';
import { startLocalCa } from '../helpers/controlplane.js';
import { postJson, send } from '../helpers/http.js';
import { opensslCsr } from '../helpers/openssl.js';

describe('the in-flight limit', () => {
  it('admits up to the limit, then refuses until a request is answered', () => {
    const limit = new InFlightLimit(2, new ManualClock(0));
    assert.deepEqual([limit.tryAcquire(), limit.tryAcquire(), limit.tryAcquire()], [true, true, false]);
    limit.release();
    assert.equal(limit.tryAcquire(), true);
    assert.equal(limit.current, 2);
  });

  it('asks callers to come back when the requests ahead have drained at the recent rate, 1 to 30 s', () => {
    const clock = new ManualClock(0);
    const limit = new InFlightLimit(100, clock);
    for (let i = 0; i < 100; i++) limit.tryAcquire();
    assert.equal(limit.retryAfterSeconds(), 30, 'no completions yet: the longest wait');
    for (let i = 0; i < 50; i++) limit.release();
    for (let i = 0; i < 50; i++) limit.tryAcquire();
    assert.equal(limit.retryAfterSeconds(), 10, '100 in flight at 50 per 5 s window (10/s)');
    clock.advance(6000);
    assert.equal(limit.retryAfterSeconds(), 30, 'completions older than the window no longer count');
    assert.deepEqual([retryAfterSeconds(0, 0), retryAfterSeconds(5, 1000), retryAfterSeconds(1e6, 1)], [1, 1, 30]);
  });
});

describe('the agent honours Retry-After', () => {
  it('reads delay-seconds and HTTP-dates, ignores garbage, caps what is absurd', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter(new Date(now + 7000).toUTCString(), now), 7000);
    assert.equal(parseRetryAfter(new Date(now - 7000).toUTCString(), now), 0, 'a date in the past: now');
    assert.equal(parseRetryAfter('99999999', now), 300_000);
    for (const bad of [undefined, '', '-1', '1.5', 'soon', ['1', '2'], '0x10']) assert.equal(parseRetryAfter(bad as string, now), undefined, String(bad));
  });

  it('waits between once and twice what was asked, and holding an SVID never sooner than asked', () => {
    assert.deepEqual([retryAfterDelay(2000, 0, 0, null), retryAfterDelay(2000, 1, 0, null)], [2000, 4000]);
    assert.equal(retryAfterDelay(2000, 1, 0, 10_000), 4000, 'half the remaining life (5 s) allows it');
    assert.equal(retryAfterDelay(2000, 1, 0, 3000), 2000, 'close to expiry: as soon as the CA allows, not later');
  });
});

describe('a CA past its in-flight limit', () => {
  it('answers the excess at once with 429, Retry-After and a stable code, and keeps serving', async (t) => {
    const ca = await startLocalCa(t, { caMaxInFlight: 2 });
    const token = await ca.token('shop', 'cart');
    const roots = await ca.roots();
    const { csr } = await opensslCsr({ san: 'URI:spiffe://cluster.local/ns/shop/sa/cart' });
    const results = await Promise.all(Array.from({ length: 60 }, () => postJson(`${ca.caUrl}/v1/certificates`, { csr }, { token, ca: roots })));
    const shed = results.filter((r) => r.status === 429);
    assert.ok(shed.length > 0, 'the burst was shed in part');
    assert.ok(results.every((r) => r.status === 200 || r.status === 429), results.map((r) => r.status).join(','));
    for (const r of shed) {
      assert.match(String(r.headers['retry-after']), /^\d+$/);
      assert.equal(r.json().error.code, 'ca_overloaded');
      assert.match(r.json().error.message, /answering 2 requests already; retry in \d+s/);
    }
    assert.equal((await postJson(`${ca.caUrl}/v1/certificates`, { csr }, { token, ca: roots })).status, 200, 'served again once the burst passed');
    const metrics = (await send(`${ca.monitoringUrl}/metrics`)).text;
    assert.match(metrics, new RegExp(`meshid_ca_certificates_total\\{result="ca_overloaded"\\} ${shed.length}\\b`));
  });

  it('sheds agents that then all get their SVID by honouring Retry-After', { timeout: 60_000 }, async (t) => {
    const ca = await startLocalCa(t, { caMaxInFlight: 1 });
    const configs = await Promise.all(Array.from({ length: 40 }, (_, i) => agentConfig(ca, { serviceAccount: `sa-${i}` })));
    const svids = await Promise.all(configs.map((c) => fetchOnce({ ...c, onceTimeoutMs: 50_000 })));
    assert.equal(new Set(svids.map((s) => s.spiffeId)).size, 40, 'every agent holds its own SVID');
    const metrics = (await send(`${ca.monitoringUrl}/metrics`)).text;
    const shed = Number(/meshid_ca_certificates_total\{result="ca_overloaded"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(shed > 0, 'some were shed on the way');
    t.diagnostic(`40 agents, limit 1: ${shed} requests shed, all served`);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/common/clock.js';
import { createKubeClients } from '../../src/kube/client.js';
import { LeaderElector } from '../../src/kube/leader.js';
import { decideLease, mustStepDown } from '../../src/kube/lease-decision.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/wait.js';

const NS = 'meshid-system';
const DURATION = 15_000;

describe('decideLease', () => {
  it('acquires a free lease, renews its own, waits out another holder until the lease has not changed for its duration', () => {
    assert.equal(decideLease(null, 'a', 0, DURATION), 'acquire');
    assert.equal(decideLease({ holder: '', observedAt: 0 }, 'a', 0, DURATION), 'acquire');
    assert.equal(decideLease({ holder: 'a', observedAt: 0 }, 'a', 0, DURATION), 'renew');
    assert.equal(decideLease({ holder: 'b', observedAt: 1000 }, 'a', 1000 + DURATION - 1, DURATION), 'wait');
    assert.equal(decideLease({ holder: 'b', observedAt: 1000 }, 'a', 1000 + DURATION, DURATION), 'acquire');
  });
  it('a leader that cannot renew steps down well before others may take over', () => {
    assert.equal(mustStepDown(0, 9_999, DURATION), false);
    assert.equal(mustStepDown(0, 10_000, DURATION), true);
  });
});

describe('LeaderElector against the API', () => {
  let fake: FakeKube;
  const clock = new ManualClock();
  const electors: LeaderElector[] = [];
  const events: string[] = [];

  function elector(identity: string): LeaderElector {
    const { coordination } = createKubeClients(fake.kubeConfig());
    const e = new LeaderElector({
      coordination, namespace: NS, identity, leaseDurationMs: DURATION, retryIntervalMs: 15, clock,
      onStartedLeading: () => events.push(`${identity}+`), onStoppedLeading: () => events.push(`${identity}-`),
    });
    electors.push(e);
    return e;
  }

  before(async () => {
    fake = await FakeKube.start();
  });
  after(async () => {
    await Promise.all(electors.map((e) => e.stop({ release: false })));
    await fake.close();
  });

  it('of two replicas starting together exactly one leads, and keeps leading while it renews', async () => {
    const [a, b] = [elector('a'), elector('b')];
    await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    assert.equal([a, b].filter((e) => e.isLeader()).length, 1);
    const leader = a.isLeader() ? a : b;
    for (let i = 0; i < 5; i++) {
      clock.advance(DURATION / 3);
      await leader.tryAcquireOrRenew();
      await (leader === a ? b : a).tryAcquireOrRenew();
      assert.ok(leader.isLeader());
      assert.equal([a, b].filter((e) => e.isLeader()).length, 1);
    }
    const lease = fake.get('leases', NS, 'meshid-leader')!;
    assert.equal((lease.spec as { holderIdentity: string }).holderIdentity, leader === a ? 'a' : 'b');
    await Promise.all([a.stop({ release: false }), b.stop({ release: false })]);
  });

  it('takes over only after the lease expires when the leader dies, counting the transition', async () => {
    fake.remove('leases', NS, 'meshid-leader');
    const [c, d] = [elector('c'), elector('d')];
    assert.equal(await c.tryAcquireOrRenew(), true);
    assert.equal(await d.tryAcquireOrRenew(), false);
    // c crashes: no more renewals, no release.
    clock.advance(DURATION - 1);
    assert.equal(await d.tryAcquireOrRenew(), false);
    clock.advance(1);
    assert.equal(await d.tryAcquireOrRenew(), true);
    const spec = fake.get('leases', NS, 'meshid-leader')!.spec as { holderIdentity: string; leaseTransitions: number };
    assert.deepEqual([spec.holderIdentity, spec.leaseTransitions], ['d', 1]);
    // c comes back (say, after a long GC pause) and finds it has lost the lease.
    assert.equal(await c.tryAcquireOrRenew(), false);
    assert.ok(events.includes('c-'));
  });

  it('runs on its own timer, and a released lease is taken over without waiting for expiry', async () => {
    fake.remove('leases', NS, 'meshid-leader');
    const [e, f] = [elector('e'), elector('f')];
    e.start();
    await waitFor(() => e.isLeader());
    for (let i = 0; i < 3; i++) assert.equal(await f.tryAcquireOrRenew(), false, 'the lease is held and renewed: f waits');
    assert.equal(f.isLeader(), false);
    f.start();
    await e.stop();
    assert.equal(e.isLeader(), false);
    await waitFor(() => f.isLeader());
    await f.stop();
  });

  it('steps down when it cannot renew, before another replica may take over', async () => {
    fake.remove('leases', NS, 'meshid-leader');
    const g = elector('g');
    assert.equal(await g.tryAcquireOrRenew(), true);
    fake.forbid = (call) => call.resource === 'leases';
    try {
      clock.advance(DURATION / 3);
      assert.equal(await g.tryAcquireOrRenew(), true, 'one failed renewal is tolerated');
      clock.advance(DURATION / 3);
      assert.equal(await g.tryAcquireOrRenew(), false);
      assert.ok(events.includes('g-'));
    } finally {
      fake.forbid = () => false;
    }
  });
});

import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { describeApiError, isConflict, isNotFound } from './api-errors.js';
import { decideLease, type LeaseView, mustStepDown } from './lease-decision.js';

export const LEADER_LEASE = 'meshid-leader';

export interface LeaderElectorOptions {
  coordination: CoordinationV1Api;
  namespace: string;
  /** Unique per replica: the pod name. */
  identity: string;
  leaseName?: string;
  leaseDurationMs?: number;
  /** How often to renew (as leader) or try to acquire (as follower). */
  retryIntervalMs?: number;
  clock?: Clock;
  log?: Logger;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

/** Lease-based election: one replica at a time runs the singleton work (bundle reconciler, rotation driver). */
export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'>> & Pick<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'>;
  private leading = false;
  private lastRenewedAt = 0;
  private observed: { key: string; view: LeaseView } | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private step: Promise<boolean> = Promise.resolve(false);

  constructor(opts: LeaderElectorOptions) {
    this.o = { leaseName: LEADER_LEASE, leaseDurationMs: 15_000, retryIntervalMs: 2_000, clock: systemClock, log: silentLogger, ...opts };
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      this.step = this.tryAcquireOrRenew().finally(() => {
        if (this.running) {
          this.timer = setTimeout(loop, this.o.retryIntervalMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  /** Stops trying; with `release`, a leader frees the lease so another replica takes over without waiting for expiry. */
  async stop(opts: { release?: boolean } = { release: true }): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.step.catch(() => false);
    if (!this.leading) return;
    if (opts.release) await this.release();
    this.setLeading(false);
  }

  /** One election step; returns whether this replica leads afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.clock.now();
    try {
      const lease = await this.read();
      const action = decideLease(this.observe(lease, now), this.o.identity, now, this.o.leaseDurationMs);
      if (action === 'wait') {
        this.setLeading(false);
        return false;
      }
      await this.write(lease, action, now);
      this.lastRenewedAt = now;
      this.setLeading(true);
    } catch (err) {
      // A conflict means another replica wrote the lease first: it leads. Other errors: keep leading only while still safe.
      if (isConflict(err) || !this.leading || mustStepDown(this.lastRenewedAt, this.o.clock.now(), this.o.leaseDurationMs)) this.setLeading(false);
      if (!isConflict(err)) this.o.log.warn({ lease: this.o.leaseName, err: describeApiError(err) }, 'leader election step failed');
    }
    return this.leading;
  }

  private observe(lease: V1Lease | null, now: number): LeaseView | null {
    if (!lease) return null;
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${String(spec.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, view: { holder: spec.holderIdentity, observedAt: now } };
    return this.observed.view;
  }

  private async read(): Promise<V1Lease | null> {
    try {
      return await this.o.coordination.readNamespacedLease({ name: this.o.leaseName, namespace: this.o.namespace });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private async write(lease: V1Lease | null, action: 'acquire' | 'renew', now: number): Promise<void> {
    // The API server only accepts MicroTime with six fractional digits; a plain Date serializes with three.
    const at = new V1MicroTime(now);
    const prior = lease?.spec ?? {};
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000)),
      renewTime: at,
      acquireTime: action === 'acquire' ? at : prior.acquireTime ?? at,
      leaseTransitions: (prior.leaseTransitions ?? 0) + (action === 'acquire' && lease ? 1 : 0),
    };
    const metadata = { name: this.o.leaseName, namespace: this.o.namespace, resourceVersion: lease?.metadata?.resourceVersion };
    const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
    if (lease) await this.o.coordination.replaceNamespacedLease({ name: this.o.leaseName, namespace: this.o.namespace, body });
    else await this.o.coordination.createNamespacedLease({ namespace: this.o.namespace, body });
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.o.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.o.clock.now()) };
      await this.o.coordination.replaceNamespacedLease({ name: this.o.leaseName, namespace: this.o.namespace, body: lease });
    } catch (err) {
      this.o.log.warn({ lease: this.o.leaseName, err: describeApiError(err) }, 'could not release the leader lease; it will expire');
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.log.info({ lease: this.o.leaseName, identity: this.o.identity, leading }, leading ? 'became leader' : 'stopped leading');
    (leading ? this.o.onStartedLeading : this.o.onStoppedLeading)?.();
  }
}

/** Pure leader-election decisions, after client-go: expiry is judged by when this replica last saw the
 * record change on its own clock, never by timestamps another replica wrote, so clock skew cannot steal a lease. */

export type LeaseAction = 'acquire' | 'renew' | 'wait';

export interface LeaseView {
  /** Current holder, '' or undefined when free (released or never held). */
  holder: string | undefined;
  /** When this replica first saw the record in its current state (ms, own clock). */
  observedAt: number;
}

export function decideLease(view: LeaseView | null, identity: string, now: number, leaseDurationMs: number): LeaseAction {
  if (!view || !view.holder) return 'acquire';
  if (view.holder === identity) return 'renew';
  return now >= view.observedAt + leaseDurationMs ? 'acquire' : 'wait';
}

/**
 * A leader that could not renew must stop acting before any other replica may take over, i.e. before
 * lease duration has passed since its last successful renewal. It gives up a third of the lease earlier.
 */
export function mustStepDown(lastRenewedAt: number, now: number, leaseDurationMs: number): boolean {
  return now - lastRenewedAt >= (leaseDurationMs * 2) / 3;
}

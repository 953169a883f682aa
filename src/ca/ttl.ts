import { MeshidError } from '../common/errors.js';
import { formatDuration } from '../common/duration.js';

export const MIN_CERT_TTL_MS = 10_000;

export interface TtlPolicy {
  defaultMs: number;
  maxMs: number;
}

/** The TTL a request gets: its own ask within [10s, max], or the default (itself capped by max). */
export function grantedTtlMs(requestedSeconds: number | undefined, policy: TtlPolicy): number {
  if (requestedSeconds === undefined) return Math.min(policy.defaultMs, policy.maxMs);
  const ms = requestedSeconds * 1000;
  if (ms < MIN_CERT_TTL_MS) {
    throw new MeshidError('ttl_too_short', `ttlSeconds ${requestedSeconds} is below the minimum of ${MIN_CERT_TTL_MS / 1000}`);
  }
  if (ms > policy.maxMs) {
    throw new MeshidError('ttl_too_long', `ttlSeconds ${requestedSeconds} is above the maximum workload certificate TTL (${formatDuration(policy.maxMs)})`);
  }
  return ms;
}

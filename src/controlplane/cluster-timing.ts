/** Cluster mode intervals: the defaults suit a real API server; tests shorten them. */
export interface ClusterTiming {
  /** A leader that stops renewing is replaced after this long (a clean shutdown hands over at once). */
  leaseDurationMs: number;
  leaderRetryMs: number;
  watchRetryMs: number;
  bundleDebounceMs: number;
  /** A full trust bundle pass this often even without watch events. */
  bundleResyncMs: number;
  /** After a failed caBundle update (say, the webhook configuration is not applied yet). */
  webhookRetryMs: number;
  /** Re-checks the caBundle this often, so a replaced webhook configuration is repaired. */
  webhookResyncMs: number;
  /** Between attempts of a startup step that failed because the API server was unavailable. */
  startupRetryMs: number;
  /** The mesh view's watches relist this often (between them, only watch events). */
  meshResyncMs: number;
}

export const CLUSTER_TIMING: Readonly<ClusterTiming> = Object.freeze({
  leaseDurationMs: 15_000,
  leaderRetryMs: 2_000,
  watchRetryMs: 2_000,
  bundleDebounceMs: 100,
  bundleResyncMs: 300_000,
  webhookRetryMs: 5_000,
  webhookResyncMs: 60_000,
  startupRetryMs: 2_000,
  meshResyncMs: 1_800_000,
});

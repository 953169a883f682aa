import type { CoreV1Api, V1ConfigMap, Watch } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { apiStatus, describeApiError } from './api-errors.js';
import { type BundleWrite, type DesiredBundle, countPublished, planBundleWrites } from './bundle-plan.js';
import { BUNDLE_CONFIGMAP, BUNDLE_KEY, ISTIO_BUNDLE_CONFIGMAP, listNamespaceStates, listPublishedBundles } from './bundle-census.js';
import { MANAGED_BY_LABELS } from './labels.js';
import { startWatchLoop } from './watch-loop.js';

export { BUNDLE_CONFIGMAP, BUNDLE_KEY, ISTIO_BUNDLE_CONFIGMAP };

export interface BundleReconcilerOptions {
  core: CoreV1Api;
  watch: Watch;
  configMapName?: string;
  key?: string;
  /** Coalesces bursts of events (a namespace created, our own writes echoing back) into one pass. */
  debounceMs?: number;
  /** A full pass this often even without events, in case a watch missed something. */
  resyncMs?: number;
  watchRetryMs?: number;
  /** Writes in flight at once; bounds the load on the API server in a cluster with many namespaces. */
  concurrency?: number;
  log?: Logger;
}

export interface BundleProgress {
  /** The bundle being published, or null before setBundle. */
  bundle: string | null;
  /** Namespaces that should hold it (not terminating). */
  namespaces: number;
  /** Of those, how many held exactly this bundle at the end of the last pass. */
  published: number;
  /** Where the API has ClusterTrustBundles: whether the signer's bundle held exactly this at the end of the last pass. */
  clusterTrustBundle?: boolean;
}

/** The one ClusterTrustBundle kept beside the ConfigMaps (cluster-trust-bundle.ts). */
export interface TrustBundleObject {
  sync(bundle: string): Promise<'current' | 'written' | 'moved'>;
  describe(): string;
}

/**
 * Keeps ConfigMap meshid-ca-root-cert (or another name: Istio's istio-ca-root-cert) in every namespace
 * equal to the trust bundle: creates it in new namespaces, repairs edits and deletions, rewrites it
 * when the bundle changes. Each pass lists the
 * cluster afresh, so watch events only need to say "look again". Run it on the leader only.
 */
export class BundleReconciler {
  private readonly opts: Required<Omit<BundleReconcilerOptions, 'core' | 'watch'>> & Pick<BundleReconcilerOptions, 'core' | 'watch'>;
  private bundle: string | null = null;
  private last: BundleProgress = { bundle: null, namespaces: 0, published: 0 };
  private pass: Promise<BundleProgress> | null = null;
  private rerun = false;
  private timer: NodeJS.Timeout | undefined;
  private stops: Array<() => void> = [];
  private clusterTrustBundle: TrustBundleObject | null = null;

  constructor(opts: BundleReconcilerOptions) {
    this.opts = {
      configMapName: BUNDLE_CONFIGMAP, key: BUNDLE_KEY, debounceMs: 100, resyncMs: 300_000, watchRetryMs: 2000,
      concurrency: 8, log: silentLogger, ...opts,
    };
  }

  /** The PEM bundle (every trusted root) to publish; a change starts a pass. */
  setBundle(pem: string): void {
    if (pem === this.bundle) return;
    this.bundle = pem;
    this.schedule();
  }

  /** Also keep this object equal to the bundle, from the next pass on. */
  publishClusterTrustBundle(ctb: TrustBundleObject): void {
    this.clusterTrustBundle = ctb;
    this.schedule();
  }

  progress(): BundleProgress {
    return { ...this.last };
  }

  start(): void {
    if (this.stops.length) return;
    const { watch, watchRetryMs: retryMs, log } = this.opts;
    const poke = (): void => this.schedule();
    this.stops.push(
      startWatchLoop({ watch, path: '/api/v1/namespaces', onEvent: poke, onConnect: poke, retryMs, log }),
      startWatchLoop({ watch, path: '/api/v1/configmaps', query: { fieldSelector: `metadata.name=${this.opts.configMapName}` }, onEvent: poke, onConnect: poke, retryMs, log }),
    );
    const resync = setInterval(poke, this.opts.resyncMs);
    resync.unref();
    this.stops.push(() => clearInterval(resync));
  }

  stop(): void {
    this.stops.forEach((stop) => stop());
    this.stops = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs a pass now (or joins the one running, then runs again) and reports the outcome. */
  reconcileNow(): Promise<BundleProgress> {
    if (this.pass) {
      this.rerun = true;
      return this.pass;
    }
    this.pass = this.runPass().finally(() => {
      this.pass = null;
      if (this.rerun) {
        this.rerun = false;
        this.schedule();
      }
    });
    return this.pass;
  }

  private schedule(): void {
    if (this.timer || this.bundle === null) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reconcileNow().catch((err) => this.opts.log.warn({ err: describeApiError(err) }, 'trust bundle pass failed; will retry'));
    }, this.opts.debounceMs);
    this.timer.unref();
  }

  private async runPass(): Promise<BundleProgress> {
    const bundle = this.bundle;
    if (bundle === null) return this.progress();
    const want: DesiredBundle = { key: this.opts.key, bundle, labels: MANAGED_BY_LABELS };
    const [namespaces, published] = await Promise.all([listNamespaceStates(this.opts.core), listPublishedBundles(this.opts.core, this.opts.configMapName)]);
    const writes = planBundleWrites(namespaces, published, want);
    const { failed, moved } = await this.apply(writes, want);
    if (moved) this.rerun = true;
    const live = namespaces.filter((ns) => !ns.terminating).length;
    const clusterTrustBundle = await this.syncClusterTrustBundle(bundle);
    this.last = { bundle, namespaces: live, published: countPublished(namespaces, published, want) + writes.length - failed, ...clusterTrustBundle };
    if (writes.length) this.opts.log.info({ written: writes.length - failed, failed, namespaces: live }, 'trust bundle ConfigMaps reconciled');
    return this.progress();
  }

  private async syncClusterTrustBundle(bundle: string): Promise<{ clusterTrustBundle?: boolean }> {
    const ctb = this.clusterTrustBundle;
    if (!ctb) return {};
    try {
      const result = await ctb.sync(bundle);
      if (result === 'moved') this.rerun = true;
      if (result === 'written') this.opts.log.info({ object: ctb.describe() }, 'trust bundle ClusterTrustBundle reconciled');
      return { clusterTrustBundle: result !== 'moved' };
    } catch (err) {
      this.opts.log.warn({ object: ctb.describe(), err: describeApiError(err) }, 'cannot write the trust bundle ClusterTrustBundle');
      return { clusterTrustBundle: false };
    }
  }

  /** `moved`: some write lost to a concurrent change, so another pass is due now rather than at the next resync. */
  private async apply(writes: BundleWrite[], want: DesiredBundle): Promise<{ failed: number; moved: boolean }> {
    let failed = 0;
    let moved = false;
    const queue = [...writes];
    const worker = async (): Promise<void> => {
      for (let w = queue.shift(); w; w = queue.shift()) {
        try {
          await this.write(w, want);
        } catch (err) {
          failed++;
          const status = apiStatus(err);
          if (status === 409 || status === 404) moved = true;
          else this.opts.log.warn({ namespace: w.namespace, err: describeApiError(err) }, 'cannot write trust bundle ConfigMap');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, writes.length) }, worker));
    return { failed, moved };
  }

  private async write(w: BundleWrite, want: DesiredBundle): Promise<void> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.opts.configMapName, namespace: w.namespace, labels: { ...want.labels }, ...(w.action === 'update' ? { resourceVersion: w.resourceVersion } : {}) },
      data: { [want.key]: want.bundle },
    };
    if (w.action === 'create') await this.opts.core.createNamespacedConfigMap({ namespace: w.namespace, body });
    else await this.opts.core.replaceNamespacedConfigMap({ namespace: w.namespace, name: this.opts.configMapName, body });
  }
}

import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { BundleReconciler } from '../kube/bundle-reconciler.js';
import type { KubeClients } from '../kube/client.js';
import { LeaderElector } from '../kube/leader.js';
import type { Answer } from '../ca/podcert/answer.js';
import type { PodCertificateRequest } from '../ca/podcert/request.js';
import type { ClusterTiming } from './cluster-timing.js';
import { NativeDuties } from './native-duties.js';
import { canonicalBundle } from '../ca/trust-bundle.js';

export interface LeaderDutiesOptions {
  clients: KubeClients;
  namespace: string;
  identity: string;
  clock: Clock;
  timing: ClusterTiming;
  log: Logger;
  registry: Registry;
  /** The ConfigMaps the trust bundle is published as in every namespace (meshid's, and Istio's with --istio-compat). */
  configMapNames: readonly string[];
  /** The PodCertificateRequest signer's decision (native-duties.ts). */
  answerPodCertificate?: (req: PodCertificateRequest) => Answer | Promise<Answer>;
}

/**
 * The work one replica does for all (a Lease decides which): publishing the trust bundle to every
 * namespace (and as a ClusterTrustBundle), signing PodCertificateRequests, and answering the rotation
 * driver whether a bundle is published everywhere yet. Each term of leadership starts a fresh
 * reconciler, so progress from an earlier term is never trusted.
 */
export class LeaderDuties {
  private readonly elector: LeaderElector;
  private reconcilers: BundleReconciler[] = [];
  private native: NativeDuties | null = null;
  private bundle: string | null = null;
  private readonly gauge: Gauge;

  constructor(private readonly o: LeaderDutiesOptions) {
    this.gauge = (o.registry.getSingleMetric('meshid_leader') as Gauge | undefined)
      ?? new Gauge({ name: 'meshid_leader', help: 'Whether this replica holds the meshid-leader Lease (1) or not (0)', registers: [o.registry] });
    this.gauge.set(0);
    this.elector = new LeaderElector({
      coordination: o.clients.coordination, namespace: o.namespace, identity: o.identity, clock: o.clock, log: o.log,
      leaseDurationMs: o.timing.leaseDurationMs, retryIntervalMs: o.timing.leaderRetryMs,
      onStartedLeading: () => this.lead(),
      onStoppedLeading: () => this.follow(),
    });
  }

  start(): void {
    this.elector.start();
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  /** The bundle to publish: every root of the CA this replica has loaded, canonical PEM. */
  setBundle(pem: string): void {
    this.bundle = pem;
    for (const r of this.reconcilers) r.setBundle(pem);
  }

  /**
   * For the rotation driver: true once the last pass of this term put exactly `bundle` in every live
   * namespace, under every name: an Istio sidecar reads only istio-ca-root-cert.
   */
  async publishedEverywhere(bundle: string): Promise<boolean> {
    const want = canonicalBundle(bundle);
    const apis = this.native?.apis();
    // The ClusterTrustBundle rides with the first reconciler (meshid's own ConfigMap): it is published once.
    const clusterTrustBundle = !!apis && (apis.clusterTrustBundles === null || this.reconcilers[0]?.progress().clusterTrustBundle === true);
    return want !== null && clusterTrustBundle && this.reconcilers.length > 0 && this.reconcilers.every((r) => {
      const p = r.progress();
      return p.bundle === want && p.namespaces > 0 && p.published === p.namespaces;
    });
  }

  /** Hands the lease over at once rather than letting it expire. */
  async stop(): Promise<void> {
    await this.elector.stop({ release: true });
    this.follow();
  }

  private lead(): void {
    const t = this.o.timing;
    this.reconcilers = this.o.configMapNames.map((configMapName) => new BundleReconciler({
      core: this.o.clients.core, watch: this.o.clients.watch, log: this.o.log, configMapName,
      debounceMs: t.bundleDebounceMs, resyncMs: t.bundleResyncMs, watchRetryMs: t.watchRetryMs,
    }));
    for (const r of this.reconcilers) {
      if (this.bundle !== null) r.setBundle(this.bundle);
      r.start();
    }
    this.native = new NativeDuties({
      config: this.o.clients.config, watch: this.o.clients.watch, reconciler: this.reconcilers[0]!, answer: this.o.answerPodCertificate,
      retryMs: t.watchRetryMs, log: this.o.log, registry: this.o.registry,
    });
    this.native.start();
    this.gauge.set(1);
  }

  private follow(): void {
    this.native?.stop();
    this.native = null;
    for (const r of this.reconcilers) r.stop();
    this.reconcilers = [];
    this.gauge.set(0);
  }
}

import type { KubeConfig, Watch } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Answer } from '../ca/podcert/answer.js';
import type { PodCertificateRequest } from '../ca/podcert/request.js';
import { POD_CERTIFICATE } from '../common/pod-contract.js';
import type { Logger } from '../common/log.js';
import { describeApiError } from '../kube/api-errors.js';
import type { BundleReconciler } from '../kube/bundle-reconciler.js';
import { type CertificatesApis, discoverCertificatesApis } from '../kube/certificates-api.js';
import { ClusterTrustBundlePublisher } from '../kube/cluster-trust-bundle.js';
import { PodCertificateController } from '../kube/podcert-controller.js';

export interface NativeDutiesOptions {
  config: KubeConfig;
  watch: Watch;
  reconciler: BundleReconciler;
  /** The signer's decision for one request; undefined leaves PodCertificateRequests to others. */
  answer?: (req: PodCertificateRequest) => Answer | Promise<Answer>;
  retryMs: number;
  log: Logger;
  registry: Registry;
}

/**
 * One leadership term's Kubernetes-native work: find out what the API server serves (certificates.k8s.io), then
 * sign PodCertificateRequests for meshid.io/svid and keep ClusterTrustBundle meshid.io:svid:roots current,
 * each only where the API has it. Discovery is retried until it answers: until then the bundle is not called
 * published everywhere, so a rotation cannot outrun a ClusterTrustBundle it has not looked for.
 */
export class NativeDuties {
  private found: CertificatesApis | null = null;
  private controller: PodCertificateController | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly answered: Counter;

  constructor(private readonly o: NativeDutiesOptions) {
    this.answered = (o.registry.getSingleMetric('meshid_pod_certificate_requests_total') as Counter | undefined)
      ?? new Counter({ name: 'meshid_pod_certificate_requests_total', help: 'PodCertificateRequests answered by this replica, by outcome and reason', labelNames: ['outcome', 'reason'], registers: [o.registry] });
  }

  start(): void {
    void this.discover();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.controller?.stop();
  }

  /** What discovery found, or null before it answered. */
  apis(): CertificatesApis | null {
    return this.found;
  }

  private async discover(): Promise<void> {
    const { log } = this.o;
    try {
      this.found = await discoverCertificatesApis(this.o.config);
    } catch (err) {
      if (this.stopped) return;
      log.warn({ err: describeApiError(err) }, 'API discovery of certificates.k8s.io failed; retrying');
      this.timer = setTimeout(() => void this.discover(), this.o.retryMs);
      this.timer.unref();
      return;
    }
    if (this.stopped) return;
    const { podCertificateRequests, clusterTrustBundles } = this.found;
    log.info({ podCertificateRequests, clusterTrustBundles }, 'certificates.k8s.io discovered');
    if (clusterTrustBundles) {
      this.o.reconciler.publishClusterTrustBundle(new ClusterTrustBundlePublisher({
        config: this.o.config, version: clusterTrustBundles, name: POD_CERTIFICATE.clusterTrustBundle, signerName: POD_CERTIFICATE.signer,
      }));
    }
    if (podCertificateRequests && this.o.answer) {
      this.controller = new PodCertificateController({
        config: this.o.config, watch: this.o.watch, version: podCertificateRequests, signerName: POD_CERTIFICATE.signer,
        answer: this.o.answer, retryMs: this.o.retryMs, log,
        onAnswered: (outcome, reason) => this.answered.inc({ outcome, reason }),
      });
      this.controller.start();
    }
  }
}

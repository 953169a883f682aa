import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { answerPodCertificate } from '../ca/podcert/answer.js';
import { exclusionOf } from '../ca/podcert/exclusions.js';
import { POD_CERTIFICATE } from '../common/pod-contract.js';
import { createKubeClients, controlPlaneNamespace, loadKubeConfig } from '../kube/client.js';
import { bundleConfigMapNames } from '../kube/bundle-census.js';
import { apiNodePods } from '../kube/node-pods.js';
import { SecretCaStore } from '../kube/secret-store.js';
import { CLUSTER_TIMING } from './cluster-timing.js';
import { clusterTokenVerifier } from './cluster-verifier.js';
import { LeaderDuties } from './leader-duties.js';
import { meshView } from './mesh-view.js';
import type { ModeFactory } from './mode.js';
import { retryStartup } from './startup-retry.js';
import { startWebhookUpkeep } from './webhook-upkeep.js';

/**
 * `meshid serve` in a cluster: CA material in a Secret, tokens checked against the cluster, and the
 * singleton work (bundle publishing, rotation) on the Lease holder. Every replica signs, serves the
 * webhook and keeps the webhook's caBundle current.
 */
export const clusterMode: ModeFactory = async (cfg, ctx) => {
  const timing = { ...CLUSTER_TIMING, ...ctx.timing };
  const log = ctx.logger.child({ mode: 'cluster' });
  const clients = createKubeClients(ctx.kubeConfig ?? loadKubeConfig({ kubeconfig: cfg.kubeconfig }));
  const namespace = ctx.namespace ?? controlPlaneNamespace();
  const startup = <T>(what: string, step: () => Promise<T>): Promise<T> =>
    retryStartup(what, step, { retryMs: timing.startupRetryMs, log, onFailure: ctx.notReady });
  const verifier = await clusterTokenVerifier(clients, { kind: cfg.tokenVerifier, requireBoundPod: cfg.requireBoundPod, clock: ctx.clock, startup });
  log.info({ namespace, tokenVerifier: cfg.tokenVerifier, requireBoundPod: cfg.requireBoundPod, istioCompat: cfg.istioCompat }, 'cluster mode');
  const mesh = meshView({ trustDomain: cfg.trustDomain, rootNamespace: namespace, retryMs: timing.watchRetryMs, resyncMs: timing.meshResyncMs, log: log.child({ part: 'mesh-view' }) });

  return {
    store: new SecretCaStore({ core: clients.core, watch: clients.watch, namespace, watchRetryMs: timing.watchRetryMs, log }),
    verifier,
    nodePods: apiNodePods(clients.core),
    views: mesh.provider,
    namespace,
    trustBundle: bundleConfigMapNames(cfg.istioCompat).map((name) => `configmap/${name}`).join(','),
    dataDir: '',
    trustBundlePath: '',
    startup,
    attach(authority) {
      const bundle = (): string => authority.current().roots.join('');
      const excluded = exclusionOf(cfg.podCertificateDeny);
      const duties = new LeaderDuties({
        clients, namespace, identity: ctx.identity || process.env.POD_NAME || hostname(), clock: ctx.clock, timing, log, registry: ctx.registry,
        configMapNames: bundleConfigMapNames(cfg.istioCompat),
        answerPodCertificate: async (req) => {
          const ca = authority.current();
          const answer = answerPodCertificate(req, {
            signerName: POD_CERTIFICATE.signer, ca, trustDomain: cfg.trustDomain, maxTtlMs: cfg.maxWorkloadCertTtlMs,
            now: ctx.clock.now(), random: randomBytes, excluded,
          });
          // Root rotation must know of the leaf before the pod holds it, as for the REST API; a failed record is retried.
          if (answer.kind === 'answer' && answer.status.notAfter) await authority.recordIssued(ca, Date.parse(answer.status.notAfter));
          return answer;
        },
      });
      duties.setBundle(bundle());
      const webhook = startWebhookUpkeep({ admission: clients.admission, bundle, retryMs: timing.webhookRetryMs, resyncMs: timing.webhookResyncMs, log });
      const stopWatching = authority.onChange(() => {
        duties.setBundle(bundle());
        webhook.changed();
      });
      duties.start();
      mesh.start(clients);
      return {
        rotation: { isLeader: () => duties.isLeader(), publishedEverywhere: (b) => duties.publishedEverywhere(b) },
        isLeader: () => duties.isLeader(),
        async close() {
          stopWatching();
          mesh.stop();
          webhook.stop();
          await duties.stop();
        },
      };
    },
  };
};

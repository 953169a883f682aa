import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { systemClock, type Clock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import { CertificateAuthority } from '../ca/authority.js';
import { startRotationDriver } from '../ca/rotation/driver.js';
import type { CaMaterial } from '../ca/material.js';
import { caMetrics, type CaMetrics } from '../ca/metrics.js';
import { istioCaMetrics } from '../ca/istio/metrics.js';
import { startIstioCaServer } from '../ca/istio/server.js';
import type { ClusterTiming } from './cluster-timing.js';
import { parseServeConfig, type ServeConfig } from './config.js';
import { canBindIpv6Any, chooseListenAddress, DEFAULT_LISTEN_ADDRESS, loopbackFor } from './listen.js';
import { localMode } from './local.js';
import { monitoringServer } from './monitoring.js';
import { bindError, checkPortsFree, type PortClaim } from './port-check.js';
import { httpsServers } from './servers.js';
import { isSelfMadeRootSubject } from '../pki/templates.js';

export interface ControlPlaneOptions extends Partial<ServeConfig> {
  local: boolean;
  clock?: Clock;
  random?: (n: number) => Buffer;
  logger?: Logger;
  namespace?: string;
  /** How often the rotation driver re-checks its deadlines. */
  rotationTickMs?: number;
  /** Cluster mode: the API to talk to, instead of loading --kubeconfig / in-cluster config. */
  kubeConfig?: KubeConfig;
  /** Cluster mode: this replica's name in leader election; default $POD_NAME, else the host name. */
  identity?: string;
  clusterTiming?: Partial<ClusterTiming>;
}

export interface ControlPlane {
  caUrl: string;
  /** host:port of the Istio CA API (gRPC over TLS), as istio-agent's CA_ADDR names it. */
  istioCaAddress: string;
  webhookUrl: string;
  monitoringUrl: string;
  /** The address listened on: --listen-address, or the default (`::`, or 0.0.0.0 on a host without IPv6). */
  host: string;
  /** Local mode: the data directory and its root-cert.pem; '' in cluster mode. */
  dataDir: string;
  trustBundlePath: string;
  /** Where the trust bundle is published: the file, or the ConfigMap in every namespace. */
  trustBundle: string;
  authority: CertificateAuthority;
  registry: Registry;
  /** Whether this replica runs the singleton work (always, in local mode). */
  isLeader(): boolean;
  close(): Promise<void>;
}

/** meshid serve: the CA API, the injection webhook and monitoring, on one CA; local and cluster mode differ only in ModeParts. */
export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const cfg: ServeConfig = { ...parseServeConfig({}), ...definedOnly(o) };
  const clock = o.clock ?? systemClock;
  const random = o.random ?? randomBytes;
  const logger = o.logger ?? createLogger();
  const listen = chooseListenAddress(cfg.listenAddress, cfg.listenAddress !== undefined || await canBindIpv6Any());
  if (listen.fellBack) logger.warn({ listen: listen.address }, `cannot listen on ${DEFAULT_LISTEN_ADDRESS} (no IPv6 on this host): listening on ${listen.address}, IPv4 only`);
  const host = listen.address;
  const claim = (flag: PortClaim['flag'], port: number): PortClaim => ({ flag, port });
  const [monitoringPort, caPort, webhookPort] = [claim('monitoring-port', cfg.monitoringPort), claim('ca-port', cfg.caPort), claim('webhook-port', cfg.webhookPort)];
  await checkPortsFree([monitoringPort, caPort, webhookPort, claim('istio-ca-port', cfg.istioCaPort)], host);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Up first, so probes get an answer (not ready, and why) while the CA loads.
  let notReady: string | null = 'loading the CA material';
  const monitoring = monitoringServer(registry, () => notReady, logger);
  const cleanup: Array<() => unknown> = [() => monitoring.close()];
  const closeAll = async (): Promise<void> => {
    for (const step of cleanup.splice(0)) await step();
  };
  try {
    const [monitoringUrl] = await listenAll([[monitoring, monitoringPort, 'http']], host);
    // Cluster mode is loaded only when used: the Kubernetes client takes about half a second to load.
    const factory = cfg.local ? localMode : (await import('./cluster.js')).clusterMode;
    const mode = await factory(cfg, {
      clock, logger, registry, notReady: (reason) => { notReady = reason; },
      namespace: o.namespace, kubeConfig: o.kubeConfig, identity: o.identity, timing: o.clusterTiming,
    });
    const authority = await mode.startup('load the CA material', () => CertificateAuthority.open({ store: mode.store, trustDomain: cfg.trustDomain, clock, random, logger }));
    cleanup.unshift(() => authority.close());

    const metrics = caMetrics(registry);
    const servers = httpsServers({ cfg, authority, verifier: mode.verifier, views: mode.views, namespace: mode.namespace, clock, random, logger, registry, metrics });
    cleanup.unshift(() => servers.close());
    cleanup.unshift(authority.onChange((m) => {
      servers.renewServingCert();
      recordExpiry(metrics, m);
    }));
    recordExpiry(metrics, authority.current());
    const attached = mode.attach(authority);
    cleanup.unshift(() => attached.close());
    const [caUrl, webhookUrl] = await listenAll([[servers.caApp, caPort, 'https'], [servers.webhookApp, webhookPort, 'https']], host);
    const istio = await startIstioCaServer({
      authority, verifier: mode.verifier, trustDomain: cfg.trustDomain, clock, random,
      ttl: { defaultMs: cfg.workloadCertTtlMs, maxMs: cfg.maxWorkloadCertTtlMs },
      impersonation: { trusted: cfg.caTrustedNodeAccounts, nodePods: mode.nodePods },
      metrics: istioCaMetrics(registry), audit: logger.child({ audit: true }), logger,
      servingCert: servers.subscribeServingCert, host, port: cfg.istioCaPort,
    });
    cleanup.unshift(() => istio.close());

    const rotation = startRotationDriver({
      store: mode.store, authority, clock, random, logger, registry,
      trustDomain: cfg.trustDomain,
      maxWorkloadTtlMs: cfg.maxWorkloadCertTtlMs,
      bundlePropagationDelayMs: cfg.bundlePropagationDelayMs,
      // Covers replicas that reload a little late and clock skew; scaled down so short-TTL demos finish in minutes.
      retireMarginMs: Math.min(300_000, Math.max(10_000, cfg.maxWorkloadCertTtlMs / 10)),
      // An operator's plug-in CA is theirs to replace; only a root meshid made is rotated on a schedule.
      rotateAtFraction: isSelfMadeRoot(authority.current()) ? undefined : null,
      tickMs: o.rotationTickMs ?? 1000,
      ...attached.rotation,
    });
    cleanup.unshift(() => rotation.stop());
    notReady = null;

    return {
      caUrl: caUrl!, istioCaAddress: `${loopbackFor(host)}:${istio.port}`, webhookUrl: webhookUrl!, monitoringUrl: monitoringUrl!, host,
      dataDir: mode.dataDir, trustBundlePath: mode.trustBundlePath, trustBundle: mode.trustBundle,
      authority, registry,
      isLeader: attached.isLeader,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** URLs name where a local client reaches the server. */
async function listenAll(servers: Array<[FastifyInstance, PortClaim, string]>, host: string): Promise<string[]> {
  const urls: string[] = [];
  const reach = loopbackFor(host);
  for (const [app, claim, scheme] of servers) {
    await app.listen({ port: claim.port, host }).catch((err: unknown) => {
      throw bindError(err, claim, host);
    });
    const addr = app.server.address();
    const actual = typeof addr === 'object' && addr ? addr.port : claim.port;
    urls.push(`${scheme}://${reach}:${actual}`);
  }
  return urls;
}

function recordExpiry(metrics: CaMetrics, m: CaMaterial): void {
  metrics.expiry.reset();
  metrics.expiry.set({ cert: 'signing' }, Date.parse(m.signingCert.validTo) / 1000);
  m.rootCerts.forEach((r, i) => metrics.expiry.set({ cert: `root-${i}` }, Date.parse(r.validTo) / 1000));
}

function isSelfMadeRoot(m: CaMaterial): boolean {
  return m.rootCerts.every((r) => isSelfMadeRootSubject(r.subject));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import { randomBytes } from 'node:crypto';
import { resolve, join } from 'node:path';
import { fastify, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { systemClock, type Clock } from '../common/clock.js';
import { installErrorHandling } from '../common/http-errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { registerCaApi } from '../ca/api.js';
import { CertificateAuthority } from '../ca/authority.js';
import { loadLocalIssuer, LOCAL_ALGORITHM } from '../ca/auth/local-issuer.js';
import { jwtVerifier } from '../ca/auth/jwt-verifier.js';
import { FileCaStore } from '../ca/file-store.js';
import { startRotationDriver } from '../ca/rotation/driver.js';
import type { CaMaterial } from '../ca/material.js';
import { caMetrics, type CaMetrics } from '../ca/metrics.js';
import { PLUGIN_FILES } from '../ca/store.js';
import { injectorConfig } from '../injector/config.js';
import { registerInjector } from '../injector/webhook.js';
import { parseServeConfig, type ServeConfig } from './config.js';
import { monitoringServer } from './monitoring.js';
import { issueServingCert, servingNames } from './serving-cert.js';

export interface ControlPlaneOptions extends Partial<ServeConfig> {
  dataDir: string;
  local: boolean;
  clock?: Clock;
  random?: (n: number) => Buffer;
  logger?: Logger;
  /** Where to listen; local mode defaults to loopback only. */
  host?: string;
  namespace?: string;
  /** How often the rotation driver re-checks its deadlines. */
  rotationTickMs?: number;
}

export interface ControlPlane {
  caUrl: string;
  webhookUrl: string;
  monitoringUrl: string;
  dataDir: string;
  trustBundlePath: string;
  authority: CertificateAuthority;
  registry: Registry;
  close(): Promise<void>;
}

const SERVING_TTL_MS = 24 * 3_600_000;

/** meshid serve: the CA API, the injection webhook and monitoring, on one CA. */
export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const cfg: ServeConfig = { ...parseServeConfig({}), ...definedOnly(o), dataDir: resolve(o.dataDir) };
  if (!cfg.local) throw new Error('cluster mode is not available in this build yet; run with --local');
  const clock = o.clock ?? systemClock;
  const random = o.random ?? randomBytes;
  const logger = o.logger ?? createLogger();
  const host = o.host ?? '127.0.0.1';
  const namespace = o.namespace ?? 'meshid-system';

  const store = new FileCaStore(cfg.dataDir);
  const authority = await CertificateAuthority.open({ store, trustDomain: cfg.trustDomain, clock, random, logger });
  const issuer = await loadLocalIssuer(cfg.dataDir);
  const verifier = jwtVerifier({ key: issuer.publicKey, issuer: issuer.issuer, algorithms: [LOCAL_ALGORITHM], clock });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = caMetrics(registry);
  const serving = () => issueServingCert(authority.current(), { dnsNames: servingNames(namespace), ips: ['127.0.0.1', '::1'], now: clock.now(), ttlMs: SERVING_TTL_MS, random });
  let cert = serving();

  // Unknown properties and mistyped values are refused, not silently dropped or coerced (fastify defaults).
  const caApp = fastify({ https: { key: cert.key, cert: cert.cert }, logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  installErrorHandling(caApp, logger);
  registerCaApi(caApp, {
    authority, verifier, trustDomain: cfg.trustDomain, clock, random, metrics,
    ttl: { defaultMs: cfg.workloadCertTtlMs, maxMs: cfg.maxWorkloadCertTtlMs },
    audit: logger.child({ audit: true }),
  });
  const webhookApp = fastify({ https: { key: cert.key, cert: cert.cert }, logger: false });
  installErrorHandling(webhookApp, logger);
  registerInjector(webhookApp, {
    config: injectorConfig({ controlPlaneNamespace: namespace, trustDomain: cfg.trustDomain, caAddress: `meshid.${namespace}.svc:15012` }),
    registry,
    logger,
  });
  const monitoring = monitoringServer(registry, () => null, logger);

  // A new signing CA (plug-in change or rotation) gets a new serving certificate, as does half-life.
  const renewServing = () => {
    cert = serving();
    for (const app of [caApp, webhookApp]) app.server.setSecureContext({ key: cert.key, cert: cert.cert });
  };
  const stopWatching = authority.onChange((m) => {
    renewServing();
    recordExpiry(metrics, m);
  });
  recordExpiry(metrics, authority.current());
  const renewTimer = setInterval(() => { if (clock.now() > cert.notAfter - SERVING_TTL_MS / 2) renewServing(); }, 60_000);
  renewTimer.unref();

  const rotation = startRotationDriver({
    store, authority, clock, random, logger, registry,
    trustDomain: cfg.trustDomain,
    maxWorkloadTtlMs: cfg.maxWorkloadCertTtlMs,
    bundlePropagationDelayMs: cfg.bundlePropagationDelayMs,
    // Covers replicas that reload a little late and clock skew; scaled down so short-TTL demos finish in minutes.
    retireMarginMs: Math.min(300_000, Math.max(10_000, cfg.maxWorkloadCertTtlMs / 10)),
    // An operator's plug-in CA is theirs to replace; only a root meshid made is rotated on a schedule.
    rotateAtFraction: isSelfMadeRoot(authority.current()) ? undefined : null,
    tickMs: o.rotationTickMs ?? 1000,
  });

  const [caUrl, webhookUrl, monitoringUrl] = await listenAll([
    [caApp, cfg.caPort, 'https'],
    [webhookApp, cfg.webhookPort, 'https'],
    [monitoring, cfg.monitoringPort, 'http'],
  ], host);

  return {
    caUrl: caUrl!, webhookUrl: webhookUrl!, monitoringUrl: monitoringUrl!,
    dataDir: cfg.dataDir,
    trustBundlePath: join(cfg.dataDir, PLUGIN_FILES.roots),
    authority,
    registry,
    async close() {
      clearInterval(renewTimer);
      rotation.stop();
      stopWatching();
      authority.close();
      await Promise.all([caApp.close(), webhookApp.close(), monitoring.close()]);
    },
  };
}

async function listenAll(servers: Array<[FastifyInstance, number, string]>, host: string): Promise<string[]> {
  const started: FastifyInstance[] = [];
  try {
    const urls: string[] = [];
    for (const [app, port, scheme] of servers) {
      await app.listen({ port, host });
      started.push(app);
      const addr = app.server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      urls.push(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${actual}`);
    }
    return urls;
  } catch (err) {
    await Promise.all(started.map((a) => a.close()));
    throw err;
  }
}

function recordExpiry(metrics: CaMetrics, m: CaMaterial): void {
  metrics.expiry.reset();
  metrics.expiry.set({ cert: 'signing' }, Date.parse(m.signingCert.validTo) / 1000);
  m.rootCerts.forEach((r, i) => metrics.expiry.set({ cert: `root-${i}` }, Date.parse(r.validTo) / 1000));
}

function isSelfMadeRoot(m: CaMaterial): boolean {
  return m.rootCerts.every((r) => /CN=meshid root CA /.test(r.subject));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

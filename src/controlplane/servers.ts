import { fastify, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { registerCaApi } from '../ca/api.js';
import { jwksMaxAgeSeconds, registerJwtApi } from '../ca/jwt/api.js';
import type { CertificateAuthority } from '../ca/authority.js';
import type { TokenVerifier } from '../ca/auth/verifier.js';
import type { CaMetrics } from '../ca/metrics.js';
import type { Clock } from '../common/clock.js';
import { installErrorHandling } from '../common/http-errors.js';
import type { Logger } from '../common/log.js';
import { injectorConfig } from '../injector/config.js';
import { registerInjector } from '../injector/webhook.js';
import type { ServeConfig } from './config.js';
import { issueServingCert, servingNames } from './serving-cert.js';

const SERVING_TTL_MS = 24 * 3_600_000;

export interface HttpsServersOptions {
  cfg: ServeConfig;
  authority: CertificateAuthority;
  verifier: TokenVerifier;
  namespace: string;
  clock: Clock;
  random: (n: number) => Buffer;
  logger: Logger;
  registry: Registry;
  metrics: CaMetrics;
}

export interface HttpsServers {
  caApp: FastifyInstance;
  webhookApp: FastifyInstance;
  /** A new signing CA (plug-in change or rotation) needs a serving certificate it signed. */
  renewServingCert(): void;
  close(): Promise<void>;
}

/** The CA API and the injection webhook, both on a serving certificate from the CA itself. */
export function httpsServers(o: HttpsServersOptions): HttpsServers {
  const { cfg, authority, clock, random, logger, namespace } = o;
  const serving = () => issueServingCert(authority.current(), { dnsNames: servingNames(namespace), ips: ['127.0.0.1', '::1'], now: clock.now(), ttlMs: SERVING_TTL_MS, random });
  let cert = serving();

  // Unknown properties and mistyped values are refused, not silently dropped or coerced (fastify defaults).
  const caApp = fastify({ https: { key: cert.key, cert: cert.cert }, logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  installErrorHandling(caApp, logger);
  registerCaApi(caApp, {
    authority, verifier: o.verifier, trustDomain: cfg.trustDomain, clock, random, metrics: o.metrics,
    ttl: { defaultMs: cfg.workloadCertTtlMs, maxMs: cfg.maxWorkloadCertTtlMs },
    audit: logger.child({ audit: true }),
  });
  registerJwtApi(caApp, {
    authority, verifier: o.verifier, trustDomain: cfg.trustDomain, clock, metrics: o.metrics,
    maxWorkloadTtlMs: cfg.maxWorkloadCertTtlMs, bundleMaxAgeSeconds: jwksMaxAgeSeconds(cfg.bundlePropagationDelayMs),
    audit: logger.child({ audit: true }),
  });
  const webhookApp = fastify({ https: { key: cert.key, cert: cert.cert }, logger: false });
  installErrorHandling(webhookApp, logger);
  registerInjector(webhookApp, {
    config: injectorConfig({ controlPlaneNamespace: namespace, trustDomain: cfg.trustDomain, caAddress: `meshid.${namespace}.svc:15012`, proxyImage: cfg.proxyImage }),
    registry: o.registry,
    logger,
  });

  const renewServingCert = (): void => {
    cert = serving();
    for (const app of [caApp, webhookApp]) app.server.setSecureContext({ key: cert.key, cert: cert.cert });
  };
  // Renewed at half-life, like any other leaf.
  const timer = setInterval(() => { if (clock.now() > cert.notAfter - SERVING_TTL_MS / 2) renewServingCert(); }, 60_000);
  timer.unref();
  return {
    caApp,
    webhookApp,
    renewServingCert,
    async close() {
      clearInterval(timer);
      await Promise.all([caApp.close(), webhookApp.close()]);
    },
  };
}

import { systemClock, type Clock } from '../common/clock.js';
import { writeFileAtomic } from '../common/atomic-write.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { workloadSpiffeId } from '../pki/spiffe.js';
import { APP_HEALTH_PREFIX, appProbeHandler, parseAppProbes } from './app-probes.js';
import { BundleWatcher } from './bundle-watcher.js';
import { CaError } from './ca-client.js';
import type { AgentConfig } from './config.js';
import { ENVOY_PORTS, envoyBootstrap } from './envoy-bootstrap.js';
import { EnvoyProcess } from './envoy-process.js';
import { writeSvidFiles } from './files.js';
import { readinessHandler } from './health.js';
import { listen, reply } from './http-server.js';
import { AgentMetrics } from './metrics.js';
import { Renewer } from './renewer.js';
import { retryDelay, type BackoffPolicy, type RenewalPolicy } from './rotation.js';
import { SdsServer } from './sds-server.js';
import { createSvidFetcher, type FetchSvid } from './svid-fetch.js';
import type { Svid } from './svid.js';
import { SvidStore } from './svid-store.js';
import { realTimers, type Timers } from './timers.js';

/** What the composition takes from outside, so tests and the bench drive time, randomness and the CA call. */
export interface AgentDeps {
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
  logger?: Logger;
  /** Replaces the CA exchange (tests of the loop without a CA). */
  fetchSvid?: FetchSvid;
  renewal?: RenewalPolicy;
  backoff?: BackoffPolicy;
}

export interface RunningAgent {
  spiffeId: string;
  store: SvidStore;
  metrics: AgentMetrics;
  sds: SdsServer;
  statusPort: number;
  healthPort: number;
  envoy: EnvoyProcess | null;
  /** Resolves once the first SVID is held. */
  ready(): Promise<void>;
  /** SIGTERM: stop renewing, stop the proxy, end the streams and remove the socket, close the ports. */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? realTimers;
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? silentLogger;
  const spiffeId = workloadSpiffeId(config);
  const probes = parseAppProbes(config.appProbesJson);
  const store = new SvidStore(clock);
  const metrics = new AgentMetrics();
  const fetchSvid = deps.fetchSvid ?? fetcherFor(config, spiffeId, clock, store);

  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const sds = await SdsServer.start({ socketPath: config.sdsSocket, store, logger, metrics });
    opened.push(sds);
    let envoy: EnvoyProcess | null = null;
    const health = await listen(config.healthPort, config.listenHost, readinessHandler(store, () => (envoy ? envoy.ready() : Promise.resolve(true))));
    opened.push(health);
    const status = await listen(config.statusPort, config.listenHost, statusHandler(metrics, appProbeHandler(probes)));
    opened.push(status);

    const watcher = new BundleWatcher({ file: config.caRootFile, store, timers, intervalMs: config.bundlePollMs, logger });
    const outDir = config.outDir;
    const renewer = new Renewer({
      fetchSvid, store, clock, timers, random, logger, metrics,
      renewal: deps.renewal ?? config.renewal, backoff: deps.backoff,
      afterRenewal: outDir ? (svid) => writeSvidFiles(outDir, svid) : undefined,
    });
    watcher.start();
    renewer.start();
    if (config.envoyBinary) {
      const bootstrap = envoyBootstrap({ nodeId: `sidecar~${spiffeId}`, cluster: `${config.serviceAccount}.${config.namespace}`, sdsSocketPath: config.sdsSocket, trustDomain: config.trustDomain });
      await writeFileAtomic(config.envoyConfigPath, JSON.stringify(bootstrap, null, 2));
      envoy = new EnvoyProcess({ binary: config.envoyBinary, configPath: config.envoyConfigPath, adminPort: ENVOY_PORTS.admin, logger, timers, random });
      envoy.start();
    }
    logger.info({ spiffeId, sdsSocket: config.sdsSocket, statusPort: status.port, healthPort: health.port }, 'agent started');
    return {
      spiffeId, store, metrics, sds, envoy,
      statusPort: status.port,
      healthPort: health.port,
      ready: () => renewer.whenReady(),
      stop: async () => {
        watcher.stop();
        await renewer.stop();
        await envoy?.stop();
        await Promise.all(opened.map((s) => s.close()));
        logger.info('agent stopped');
      },
    };
  } catch (err) {
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
}

/**
 * `--once`: fetch one SVID, write the files, done. CA outages (no answer, 5xx) are retried a few times, since
 * an init container may start before the CA; a refusal (bad token, wrong identity) fails at once.
 */
export async function fetchOnce(config: AgentConfig, deps: AgentDeps & { attempts?: number } = {}): Promise<Svid> {
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? realTimers;
  const random = deps.random ?? Math.random;
  const store = new SvidStore(clock);
  const fetchSvid = deps.fetchSvid ?? fetcherFor(config, workloadSpiffeId(config), clock, store);
  const attempts = deps.attempts ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      const svid = await fetchSvid();
      if (config.outDir) await writeSvidFiles(config.outDir, svid);
      return svid;
    } catch (err) {
      if (!(err instanceof CaError && err.transient) || attempt + 1 >= attempts) throw err;
      const delay = retryDelay(attempt, random(), 0, null, deps.backoff);
      deps.logger?.warn({ code: err.code, retryInMs: delay }, err.message);
      await new Promise<void>((resolve) => timers.after(delay, resolve));
    }
  }
}

function fetcherFor(config: AgentConfig, spiffeId: string, clock: Clock, store: SvidStore): FetchSvid {
  return createSvidFetcher({
    caUrl: config.caUrl, caRootFile: config.caRootFile, tokenFile: config.tokenFile, spiffeId,
    ttlSeconds: config.certTtlSeconds, keyAlgorithm: config.keyAlgorithm, clock,
    knownRoots: () => store.roots(),
  });
}

function statusHandler(metrics: AgentMetrics, probes: ReturnType<typeof appProbeHandler>) {
  return async (req: Parameters<typeof probes>[0], res: Parameters<typeof probes>[1]): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith(APP_HEALTH_PREFIX)) return probes(req, res);
    if (path === '/metrics') {
      const { text, contentType } = await metrics.exposition();
      return reply(res, 200, text, contentType);
    }
    reply(res, 404, 'not found\n');
  };
}

import { systemClock, type Clock } from '../common/clock.js';
import { writeFileAtomic } from '../common/atomic-write.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { workloadSpiffeId } from '../pki/spiffe.js';
import { parseAppProbes } from '../common/app-probes-env.js';
import { PORTS } from '../common/pod-contract.js';
import { appProbeHandler, isAppHealthRequest } from './app-probes.js';
import { BundleWatcher } from './bundle-watcher.js';
import type { AgentConfig } from './config.js';
import { envoyBootstrap } from './envoy-bootstrap.js';
import { EnvoyProcess } from './envoy-process.js';
import { writeSvidFiles } from './files.js';
import { readinessHandler } from './health.js';
import { listen, reply } from './http-server.js';
import { AgentMetrics } from './metrics.js';
import { Renewer } from './renewer.js';
import { ProblemLog } from './problem-log.js';
import type { BackoffPolicy, RenewalPolicy } from './rotation.js';
import { SdsServer } from './sds-server.js';
import { CA_TIMEOUT_MS, svidFetcherFor, trustedRoots, type FetchSvid } from './svid-fetch.js';
import { SvidStore } from './svid-store.js';
import { realTimers, type Timers } from './timers.js';
import type { ViewSource } from '../mesh/view.js';
import { followView } from './view-follow.js';
import { defaultPlan, planSourceFromViews, SettablePlanSource, type PlanSource } from './xds/plan-source.js';
import { WorkloadApiServer } from './workload-api.js';
import { WorkloadJwt } from './workload-jwt.js';

export { fetchOnce } from './fetch-once.js';

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
  /** What the control plane says about this pod; Envoy's listeners and clusters follow it. */
  views?: ViewSource;
  /** Replaces the plan derived from `views` (tests drive Envoy's configuration with it). */
  plans?: PlanSource;
}

export interface RunningAgent {
  spiffeId: string;
  store: SvidStore;
  metrics: AgentMetrics;
  sds: SdsServer;
  workload: WorkloadApiServer;
  statusPort: number;
  healthPort: number;
  envoy: EnvoyProcess | null;
  /** This pod's mesh view from the control plane; null when the agent does not know its pod name. */
  view: ViewSource | null;
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
  const fetchSvid = deps.fetchSvid ?? svidFetcherFor(config, spiffeId, clock, store);
  const problems = new ProblemLog(logger);

  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const view = followView(config, { store, timers, random, logger });
    const views = deps.views ?? view?.client;
    const plans = deps.plans ?? (views ? planSourceFromViews(views, config.trustDomain) : new SettablePlanSource(defaultPlan(config.trustDomain, null)));
    const jwt = new WorkloadJwt({
      ca: { caUrl: config.caUrl, trustedRoots: () => trustedRoots(config.caRootFile, store.roots()), trustSource: config.caRootFile, timeoutMs: CA_TIMEOUT_MS },
      tokenFile: config.tokenFile, spiffeId, trustDomain: config.trustDomain, clock, timers, intervalMs: config.bundlePollMs, logger,
    });
    opened.push({ close: async () => jwt.stop() });
    const [sds, workload] = await Promise.all([
      SdsServer.start({ socketPath: config.sdsSocket, store, logger, metrics, config: { plans, podIps: config.podIps ?? [] } }).then((s) => (opened.push(s), s)),
      WorkloadApiServer.start({ socketPath: config.workloadSocket, store, spiffeId, trustDomain: config.trustDomain, jwt, logger }).then((w) => (opened.push(w), w)),
    ]);
    store.on('change', (c) => c.svid && jwt.afterRotation());
    let envoy: EnvoyProcess | null = null;
    const health = await listen(config.healthPort, config.listenHost, readinessHandler(store, () => (envoy ? envoy.ready() : Promise.resolve(true)), () => problems.current()));
    opened.push(health);
    const status = await listen(config.statusPort, config.listenHost, statusHandler(metrics, appProbeHandler(probes)));
    opened.push(status);

    const watcher = new BundleWatcher({ file: config.caRootFile, store, timers, intervalMs: config.bundlePollMs, logger });
    const outDir = config.outDir;
    const renewer = new Renewer({
      fetchSvid, store, clock, timers, random, logger, metrics, problems,
      renewal: deps.renewal ?? config.renewal, backoff: deps.backoff,
      afterRenewal: outDir ? (svid) => writeSvidFiles(outDir, svid) : undefined,
    });
    watcher.start();
    renewer.start();
    // The view is asked for with the same token once the CA has answered, so a CA that is not up yet costs one outage line, not two.
    if (view) void renewer.whenReady().then(() => view.client.start(), () => undefined);
    if (config.envoyBinary) {
      const bootstrap = envoyBootstrap({ nodeId: `sidecar~${spiffeId}`, cluster: `${config.serviceAccount}.${config.namespace}`, sdsSocketPath: config.sdsSocket, podIps: config.podIps ?? [] });
      await writeFileAtomic(config.envoyConfigPath, JSON.stringify(bootstrap, null, 2));
      envoy = new EnvoyProcess({ binary: config.envoyBinary, configPath: config.envoyConfigPath, adminPort: PORTS.envoyAdmin, logger, timers, random });
      envoy.start();
    }
    logger.info({ spiffeId, sdsSocket: config.sdsSocket, workloadSocket: config.workloadSocket, statusPort: status.port, healthPort: health.port }, 'agent started');
    return {
      spiffeId, store, metrics, sds, workload, envoy,
      view: view?.client ?? null,
      statusPort: status.port,
      healthPort: health.port,
      ready: () => renewer.whenReady(),
      stop: async () => {
        watcher.stop();
        await view?.stop();
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

function statusHandler(metrics: AgentMetrics, probes: ReturnType<typeof appProbeHandler>) {
  return async (req: Parameters<typeof probes>[0], res: Parameters<typeof probes>[1]): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (isAppHealthRequest(path)) return probes(req, res);
    if (path === '/metrics') {
      const { text, contentType } = await metrics.exposition();
      return reply(res, 200, text, contentType);
    }
    reply(res, 404, 'not found\n');
  };
}

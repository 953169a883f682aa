import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/log.js';
import type { AgentMetrics } from './metrics.js';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from './sds-protos.js';
import { buildSecret, isKnownSecret } from './secrets.js';
import type { SvidStore } from './svid-store.js';
import { ConfigResources } from './xds/config-resources.js';
import type { PlanSource } from './xds/plan-source.js';
import { XdsStream, type XdsResourceType } from './xds-stream.js';
import { bindUnixSocket, closeUnixServer } from './uds-bind.js';

export interface SdsServerOptions {
  socketPath: string;
  store: SvidStore;
  logger: Logger;
  metrics: AgentMetrics;
  /** With a plan source, Envoy's listeners and clusters (LDS, CDS) are served on the same socket. */
  config?: { plans: PlanSource; podIps: readonly string[] };
}

type Call = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/**
 * Envoy's SecretDiscoveryService (SotW StreamSecrets) on a Unix socket, and its ListenerDiscoveryService and
 * ClusterDiscoveryService (StreamListeners, StreamClusters) beside it. Each stream tracks its own subscription,
 * nonces and what it was sent; a store or plan change is pushed to every stream that needs it. LDS and CDS are
 * separate streams rather than ADS, which keeps one stream type per service and the SDS code as it was; the cost
 * is ordering: Envoy may apply a listener whose new chain names a cluster it has not received yet, and tcp_proxy
 * refuses connections to that one destination until it has. Pushes go to CDS streams before LDS streams so that
 * window is one round trip on the local socket.
 */
export class SdsServer {
  private readonly streams = new Set<XdsStream>();
  private readonly secretType: XdsResourceType;
  private readonly config: ConfigResources | null;
  private readonly onChange = (): void => {
    const order = (s: XdsStream) => (s.kind === 'CDS' ? 0 : s.kind === 'LDS' ? 1 : 2);
    for (const s of [...this.streams].sort((a, b) => order(a) - order(b))) s.push();
  };
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly server: grpc.Server,
    readonly socketPath: string,
    private readonly opts: SdsServerOptions,
  ) {
    const { store } = opts;
    this.secretType = {
      kind: 'SDS', typeUrl: SECRET_TYPE_URL, maxNames: 16, isKnown: isKnownSecret,
      units: (names) => [...names],
      current: (name) => {
        const s = buildSecret(name, store);
        return s ? { version: s.version, resources: [sdsProtos().encodeSecret(s.secret)] } : null;
      },
    };
    this.config = opts.config ? new ConfigResources({ ...opts.config, logger: opts.logger }) : null;
    store.on('change', this.onChange);
    const off = this.config?.onChange(this.onChange);
    this.unsubscribe = () => {
      store.off('change', this.onChange);
      off?.();
      this.config?.close();
    };
  }

  static async start(opts: SdsServerOptions): Promise<SdsServer> {
    const server = new grpc.Server();
    const sds = new SdsServer(server, opts.socketPath, opts);
    const protos = sdsProtos();
    server.addService(protos.service, {
      StreamSecrets: (call: Call) => sds.accept(call, sds.secretType),
      FetchSecrets: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(unimplemented('FetchSecrets', 'StreamSecrets')),
      // grpc-js ends a server stream with the status of an emitted error.
      DeltaSecrets: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', unimplemented('DeltaSecrets', 'StreamSecrets')),
    });
    const config = sds.config;
    if (config) {
      server.addService(protos.lds, {
        StreamListeners: (call: Call) => sds.accept(call, config.listenerType),
        FetchListeners: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(unimplemented('FetchListeners', 'StreamListeners')),
        DeltaListeners: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', unimplemented('DeltaListeners', 'StreamListeners')),
      });
      server.addService(protos.cds, {
        StreamClusters: (call: Call) => sds.accept(call, config.clusterType),
        FetchClusters: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(unimplemented('FetchClusters', 'StreamClusters')),
        DeltaClusters: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', unimplemented('DeltaClusters', 'StreamClusters')),
      });
    }
    try {
      // Owner-only: the SVID's private key is served on it.
      await bindUnixSocket(server, opts.socketPath, 0o600);
    } catch (err) {
      sds.unsubscribe();
      server.forceShutdown();
      throw err;
    }
    opts.logger.info({ socket: opts.socketPath, lds: config !== null }, config ? 'SDS, LDS and CDS server listening' : 'SDS server listening');
    return sds;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Stops accepting streams, ends the open ones and removes the socket file. */
  async close(): Promise<void> {
    this.unsubscribe();
    await closeUnixServer(this.server, this.socketPath, this.streams);
  }

  private accept(call: Call, type: XdsResourceType): void {
    const { logger, metrics } = this.opts;
    const sds = type === this.secretType;
    const stream = new XdsStream(call, {
      logger, type,
      onPush: (unit) => (sds ? metrics.sdsPushes.inc({ resource: unit }) : metrics.configPushes.inc({ type: type.kind })),
      onNack: () => (sds ? metrics.sdsNacks.inc() : metrics.configNacks.inc({ type: type.kind })),
    });
    this.streams.add(stream);
    metrics.sdsStreams.set(this.streams.size);
    stream.onClose(() => {
      this.streams.delete(stream);
      metrics.sdsStreams.set(this.streams.size);
    });
  }
}

function unimplemented(method: string, instead: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.UNIMPLEMENTED, details: `${method} is not supported by meshid agent; use ${instead}` };
}

import * as grpc from '@grpc/grpc-js';
import { rm } from 'node:fs/promises';
import type { Logger } from '../common/log.js';
import type { AgentMetrics } from './metrics.js';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from './sds-protos.js';
import { buildSecret, isKnownSecret } from './secrets.js';
import type { SvidStore } from './svid-store.js';
import { SdsStream } from './sds-stream.js';
import { bindUnixSocket, shutdownServer } from './uds-bind.js';

export interface SdsServerOptions {
  socketPath: string;
  store: SvidStore;
  logger: Logger;
  metrics: AgentMetrics;
}

/**
 * Envoy's SecretDiscoveryService (SotW StreamSecrets) on a Unix socket. Each stream tracks its own
 * subscription, nonces and what it was sent; a store change is pushed to every stream that needs it.
 */
export class SdsServer {
  private readonly streams = new Set<SdsStream>();
  private readonly onChange = (): void => {
    for (const s of this.streams) s.push();
  };

  private constructor(
    private readonly server: grpc.Server,
    readonly socketPath: string,
    private readonly opts: SdsServerOptions,
  ) {
    opts.store.on('change', this.onChange);
  }

  static async start(opts: SdsServerOptions): Promise<SdsServer> {
    const server = new grpc.Server();
    const sds = new SdsServer(server, opts.socketPath, opts);
    server.addService(sdsProtos().service, {
      StreamSecrets: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => sds.accept(call),
      FetchSecrets: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(unimplemented('FetchSecrets')),
      // grpc-js ends a server stream with the status of an emitted error.
      DeltaSecrets: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', unimplemented('DeltaSecrets')),
    });
    try {
      // Owner-only: the SVID's private key is served on it.
      await bindUnixSocket(server, opts.socketPath, 0o600);
    } catch (err) {
      opts.store.off('change', sds.onChange);
      server.forceShutdown();
      throw err;
    }
    opts.logger.info({ socket: opts.socketPath }, 'SDS server listening');
    return sds;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Stops accepting streams, ends the open ones and removes the socket file. */
  async close(): Promise<void> {
    this.opts.store.off('change', this.onChange);
    for (const s of this.streams) s.end();
    await shutdownServer(this.server);
    await rm(this.socketPath, { force: true });
  }

  private accept(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const { store, logger, metrics } = this.opts;
    const stream = new SdsStream(call, {
      logger,
      metrics,
      secret: (name) => buildSecret(name, store),
      isKnown: isKnownSecret,
      typeUrl: SECRET_TYPE_URL,
    });
    this.streams.add(stream);
    metrics.sdsStreams.set(this.streams.size);
    stream.onClose(() => {
      this.streams.delete(stream);
      metrics.sdsStreams.set(this.streams.size);
    });
  }
}

function unimplemented(method: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.UNIMPLEMENTED, details: `${method} is not supported by meshid agent; use StreamSecrets` };
}

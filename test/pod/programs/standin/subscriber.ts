import * as grpc from '@grpc/grpc-js';

/** Envoy's gRPC xDS retry backoff: 500 ms doubling to 30 s, jittered. */
const BACKOFF = { baseMs: 500, maxMs: 30_000 };
/** google.rpc.Code INVALID_ARGUMENT, what Envoy puts in a NACK's error_detail. */
const INVALID_ARGUMENT = 3;

export interface Response { version_info?: string; resources?: Array<{ type_url?: string; value?: Buffer }>; type_url?: string; nonce?: string }

export interface XdsApi { kind: string; service: string; method: string; typeUrl: string }

export const SDS_API: XdsApi = { kind: 'SDS', service: 'envoy.service.secret.v3.SecretDiscoveryService', method: 'StreamSecrets', typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret' };
export const LDS_API: XdsApi = { kind: 'LDS', service: 'envoy.service.listener.v3.ListenerDiscoveryService', method: 'StreamListeners', typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener' };
export const CDS_API: XdsApi = { kind: 'CDS', service: 'envoy.service.cluster.v3.ClusterDiscoveryService', method: 'StreamClusters', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' };

export interface SubscriberDeps {
  api: XdsApi;
  /** The static cluster the ConfigSource's envoy_grpc names, and its gRPC target. */
  cluster: string;
  target: string;
  setNodeOnFirstMessageOnly: boolean;
  node: Record<string, unknown>;
  service: grpc.ServiceDefinition;
  /** The resource names to ask for ([] for a wildcard type). */
  names(): string[];
  /** Checks a whole response; nothing of it is applied unless it all passes. */
  accept(res: Response, version: string): { apply(): void } | { problem: string };
  random(): number;
  /** Called after anything the state file shows changed. */
  onChange(): void;
  log(line: string): void;
}

/**
 * One SotW stream of one xDS type to one cluster, as Envoy keeps it: the node on the first request (every request
 * unless set_node_on_first_message_only), an ACK (version and nonce of the response) for each accepted response
 * and a NACK (the last accepted version, the nonce, error_detail) for one it cannot use, in which case what it
 * accepted before stays in force; the stream stays open for pushes and is reopened with backoff whenever it ends.
 */
export class Subscriber {
  acks = 0;
  nacks = 0;
  streams = 0;
  acceptedVersion = '';
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<object, Response> | null = null;
  private lastNonce = '';
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly d: SubscriberDeps) {
    const Client = grpc.makeGenericClientConstructor(d.service, d.api.service);
    this.client = new Client(d.target, grpc.credentials.createInsecure());
  }

  start(): void {
    if (this.closed) return;
    const call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Response>>)[this.d.api.method]!.call(this.client);
    this.call = call;
    this.lastNonce = '';
    this.streams++;
    this.d.onChange();
    call.on('data', (res: Response) => this.onResponse(call, res));
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => this.onEnd(call, status));
    this.send(call, { version_info: this.acceptedVersion, response_nonce: '' }, true);
  }

  /** The names to ask for changed (new secrets named by new listeners): say so on the open stream. */
  resubscribe(): void {
    if (this.call && !this.closed) this.send(this.call, { version_info: this.acceptedVersion, response_nonce: this.lastNonce }, false);
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.call?.cancel();
    this.client.close();
  }

  private onResponse(call: grpc.ClientDuplexStream<object, Response>, res: Response): void {
    this.failures = 0;
    const version = res.version_info ?? '';
    const nonce = res.nonce ?? '';
    this.lastNonce = nonce;
    const decided = res.type_url !== this.d.api.typeUrl
      ? { problem: `response type_url "${res.type_url ?? ''}" is not ${this.d.api.typeUrl}` }
      : this.d.accept(res, version);
    if ('problem' in decided) {
      this.nacks++;
      this.d.log(`${this.d.api.kind} response ${version} (nonce ${nonce}) from ${this.d.cluster} rejected: ${decided.problem}`);
      this.send(call, { version_info: this.acceptedVersion, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: decided.problem } }, false);
    } else {
      this.acceptedVersion = version;
      this.acks++;
      decided.apply();
      this.send(call, { version_info: version, response_nonce: nonce }, false);
    }
    this.d.onChange();
  }

  private send(call: grpc.ClientDuplexStream<object, Response>, fields: Record<string, unknown>, first: boolean): void {
    const node = first || !this.d.setNodeOnFirstMessageOnly ? { node: this.d.node } : {};
    call.write({ ...node, resource_names: this.d.names(), type_url: this.d.api.typeUrl, ...fields });
  }

  private onEnd(call: grpc.ClientDuplexStream<object, Response>, status: grpc.StatusObject): void {
    if (call !== this.call || this.closed) return;
    const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** this.failures);
    const delay = Math.round(ceiling / 2 + (this.d.random() * ceiling) / 2);
    this.failures++;
    this.d.log(`${this.d.api.kind} stream to ${this.d.cluster} ended (${grpc.status[status.code] ?? status.code}: ${status.details}); reconnecting in ${delay} ms`);
    this.retry = setTimeout(() => this.start(), delay);
  }
}

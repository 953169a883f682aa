import * as grpc from '@grpc/grpc-js';
import type { SdsSubscription } from './bootstrap-plan.js';
import { checkSecret, type DecodedSecret, type SecretView } from './secret-check.js';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';

/** Envoy's gRPC xDS retry backoff: 500 ms doubling to 30 s, jittered. */
const BACKOFF = { baseMs: 500, maxMs: 30_000 };
/** google.rpc.Code INVALID_ARGUMENT, what Envoy puts in a NACK's error_detail. */
const INVALID_ARGUMENT = 3;

interface Response { version_info?: string; resources?: Array<{ type_url?: string; value?: Buffer }>; type_url?: string; nonce?: string }

export interface SubscriberDeps {
  sub: SdsSubscription;
  node: Record<string, unknown>;
  service: grpc.ServiceDefinition;
  decodeSecret(bytes: Buffer): DecodedSecret;
  readFile(path: string): string;
  random(): number;
  /** Called after anything the state file shows changed. */
  onChange(): void;
  log(line: string): void;
}

/**
 * One SotW StreamSecrets stream to one SDS cluster, as Envoy keeps it: the node on the first request
 * (every request unless set_node_on_first_message_only), every secret name the config gives that cluster,
 * an ACK (version and nonce of the response) for each accepted response and a NACK (the last accepted
 * version, the nonce, error_detail) for one it cannot use; the stream stays open for pushes and is
 * reopened with backoff whenever it ends. Accepted secrets survive reconnects.
 */
export class SdsSubscriber {
  readonly secrets = new Map<string, SecretView>();
  acks = 0;
  nacks = 0;
  streams = 0;
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<object, Response> | null = null;
  private acceptedVersion = '';
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly d: SubscriberDeps) {
    const Client = grpc.makeGenericClientConstructor(d.service, 'SecretDiscoveryService');
    this.client = new Client(d.sub.target, grpc.credentials.createInsecure());
  }

  start(): void {
    if (this.closed) return;
    const call = (this.client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<object, Response> }).StreamSecrets();
    this.call = call;
    this.streams++;
    this.d.onChange();
    call.on('data', (res: Response) => this.onResponse(call, res));
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => this.onEnd(call, status));
    this.send(call, { version_info: this.acceptedVersion, response_nonce: '' }, true);
  }

  /** Every secret this stream is for has been accepted. */
  complete(): boolean {
    return [...this.d.sub.secrets.keys()].every((name) => this.secrets.has(name));
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
    const decoded = this.accept(res, version);
    if ('problem' in decoded) {
      this.nacks++;
      this.d.log(`SDS response ${version} (nonce ${nonce}) from ${this.d.sub.cluster} rejected: ${decoded.problem}`);
      this.send(call, { version_info: this.acceptedVersion, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: decoded.problem } }, false);
    } else {
      for (const [name, view] of decoded.views) this.secrets.set(name, view);
      this.acceptedVersion = version;
      this.acks++;
      this.send(call, { version_info: version, response_nonce: nonce }, false);
    }
    this.d.onChange();
  }

  /** All the response's secrets, checked; nothing of it is applied unless every one passes. */
  private accept(res: Response, version: string): { views: Map<string, SecretView> } | { problem: string } {
    if (res.type_url !== SECRET_TYPE_URL) return { problem: `response type_url "${res.type_url ?? ''}" is not ${SECRET_TYPE_URL}` };
    const views = new Map<string, SecretView>();
    for (const resource of res.resources ?? []) {
      if (resource.type_url !== SECRET_TYPE_URL) return { problem: `resource type_url "${resource.type_url ?? ''}" is not ${SECRET_TYPE_URL}` };
      let secret: DecodedSecret;
      try {
        secret = this.d.decodeSecret(resource.value ?? Buffer.alloc(0));
      } catch (err) {
        return { problem: `a resource does not decode as a Secret: ${(err as Error).message}` };
      }
      const kinds = this.d.sub.secrets.get(secret.name ?? '');
      // SotW: a resource nobody asked for is ignored, as Envoy does.
      if (!kinds) continue;
      const checked = checkSecret(secret, kinds, version, this.d.readFile);
      if ('problem' in checked) return checked;
      views.set(secret.name!, checked.view);
    }
    return { views };
  }

  private send(call: grpc.ClientDuplexStream<object, Response>, fields: Record<string, unknown>, first: boolean): void {
    const node = first || !this.d.sub.setNodeOnFirstMessageOnly ? { node: this.d.node } : {};
    call.write({ ...node, resource_names: [...this.d.sub.secrets.keys()], type_url: SECRET_TYPE_URL, ...fields });
  }

  private onEnd(call: grpc.ClientDuplexStream<object, Response>, status: grpc.StatusObject): void {
    if (call !== this.call || this.closed) return;
    const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** this.failures);
    const delay = Math.round(ceiling / 2 + (this.d.random() * ceiling) / 2);
    this.failures++;
    this.d.log(`SDS stream to ${this.d.sub.cluster} ended (${grpc.status[status.code] ?? status.code}: ${status.details}); reconnecting in ${delay} ms`);
    this.retry = setTimeout(() => this.start(), delay);
  }
}

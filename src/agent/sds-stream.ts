import * as grpc from '@grpc/grpc-js';
import { truncate } from '../common/text.js';
import type { Logger } from '../common/log.js';
import type { AgentMetrics } from './metrics.js';
import type { DiscoveryRequest, DiscoveryResponse } from './sds-protos.js';
import { sdsProtos } from './sds-protos.js';
import type { VersionedSecret } from './secrets.js';

export interface SdsStreamDeps {
  logger: Logger;
  metrics: AgentMetrics;
  secret(name: string): VersionedSecret | null;
  isKnown(name: string): boolean;
  typeUrl: string;
}

const MAX_NAMES = 16;
const MAX_NAME_LENGTH = 256;
let streamIds = 0;
let nonces = 0;

/**
 * One SotW StreamSecrets stream, following the xDS protocol:
 * - a request with an empty response_nonce (first request, or a reconnect) is answered with every
 *   subscribed resource, one resource per response as Envoy requires;
 * - a request whose nonce is not the latest one sent is stale and ignored;
 * - an ACK (latest nonce, no error_detail) is never answered, except for names it newly subscribes;
 * - a NACK (latest nonce with error_detail) is logged and not answered: resending the same secret would
 *   only be rejected again, so the next change is what gets pushed.
 */
export class SdsStream {
  private readonly id = ++streamIds;
  private readonly log: Logger;
  private names: string[] = [];
  private lastNonce = '';
  /** Version of each resource last sent on this stream, so a push sends only what changed. */
  private readonly sent = new Map<string, string>();
  private closed = false;
  private closeListeners: Array<() => void> = [];

  constructor(
    private readonly call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    private readonly deps: SdsStreamDeps,
  ) {
    this.log = deps.logger.child({ sdsStream: this.id });
    call.on('data', (req: DiscoveryRequest) => this.onRequest(req));
    call.on('end', () => this.end());
    call.on('cancelled', () => this.close());
    call.on('error', (err: Error) => {
      this.log.warn({ err: err.message }, 'SDS stream error');
      this.close();
    });
    call.on('close', () => this.close());
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Sends every subscribed resource whose version differs from what this stream last got. */
  push(): void {
    for (const name of this.names) {
      const current = this.deps.secret(name);
      if (current && this.sent.get(name) !== current.version) this.send(name, current);
    }
  }

  end(): void {
    if (this.closed) return;
    this.call.end();
    this.close();
  }

  private onRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    const problem = this.validate(req);
    if (problem) {
      this.log.warn({ problem }, 'malformed SDS request; ending the stream');
      this.call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const nonce = req.response_nonce ?? '';
    const names = req.resource_names ?? [];
    if (nonce !== '' && nonce !== this.lastNonce) {
      this.log.debug({ nonce, latest: this.lastNonce }, 'stale SDS nonce ignored');
      return;
    }
    if (nonce !== '' && req.error_detail) {
      this.deps.metrics.sdsNacks.inc();
      this.log.warn({ resources: names, version: req.version_info ?? '', error: truncate(req.error_detail.message ?? '', 512) }, 'proxy rejected (NACK) an SDS response');
      return;
    }
    const unknown = names.filter((n) => !this.deps.isKnown(n));
    if (unknown.length > 0) this.log.warn({ resources: unknown }, 'SDS request names secrets this agent does not serve; they will not be sent');
    const fresh = nonce === '' ? names : names.filter((n) => !this.names.includes(n));
    this.names = names;
    for (const gone of [...this.sent.keys()]) if (!names.includes(gone)) this.sent.delete(gone);
    for (const name of fresh) {
      const current = this.deps.secret(name);
      // Nothing to send yet (no SVID so far): the store's next change pushes it.
      if (current) this.send(name, current);
    }
  }

  private validate(req: DiscoveryRequest): string | null {
    if (req.type_url && req.type_url !== this.deps.typeUrl) return `type_url must be ${this.deps.typeUrl}, got "${truncate(req.type_url)}"`;
    const names = req.resource_names ?? [];
    if (names.length > MAX_NAMES) return `at most ${MAX_NAMES} resource names per request`;
    if (names.some((n) => n.length === 0 || n.length > MAX_NAME_LENGTH)) return `resource names must be 1 to ${MAX_NAME_LENGTH} characters`;
    return null;
  }

  private send(name: string, current: VersionedSecret): void {
    const nonce = `${this.id}-${++nonces}`;
    this.lastNonce = nonce;
    this.sent.set(name, current.version);
    this.call.write({
      version_info: current.version,
      resources: [{ type_url: this.deps.typeUrl, value: sdsProtos().encodeSecret(current.secret) }],
      type_url: this.deps.typeUrl,
      nonce,
    });
    this.deps.metrics.sdsPushes.inc({ resource: name });
    this.log.debug({ resource: name, version: current.version }, 'SDS response sent');
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l();
    this.closeListeners = [];
  }
}

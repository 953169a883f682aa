import * as grpc from '@grpc/grpc-js';
import { truncate } from '../common/text.js';
import type { Logger } from '../common/log.js';
import type { DiscoveryRequest, DiscoveryResponse } from './sds-protos.js';

/** A response's content: every resource of one unit, encoded, at the unit's version. */
export interface VersionedResources {
  version: string;
  resources: Buffer[];
}

/**
 * One xDS resource type as a stream serves it. SDS answers each secret name in a response of its own, as Envoy
 * requires of SDS; LDS and CDS are wildcard types whose every response carries all resources (SotW: what a
 * response leaves out is removed), so their one unit is `*`.
 */
export interface XdsResourceType {
  /** SDS, LDS, CDS: for log lines and metric labels. */
  kind: string;
  typeUrl: string;
  units(names: readonly string[]): string[];
  current(unit: string): VersionedResources | null;
  isKnown(name: string): boolean;
  maxNames: number;
}

export interface XdsStreamDeps {
  logger: Logger;
  type: XdsResourceType;
  onPush(unit: string): void;
  onNack(): void;
}

const MAX_NAME_LENGTH = 256;
let streamIds = 0;
let nonces = 0;

/**
 * One SotW stream of one resource type (StreamSecrets, StreamListeners, StreamClusters), following the xDS protocol:
 * - a request with an empty response_nonce (first request, or a reconnect) is answered with every
 *   subscribed unit;
 * - a request whose nonce is not the latest one sent is stale and ignored;
 * - an ACK (latest nonce, no error_detail) is never answered, except for names it newly subscribes;
 * - a NACK (latest nonce with error_detail) is logged and not answered: resending the same version would
 *   only be rejected again, and the proxy keeps the last version it accepted; the next change is what gets pushed.
 */
export class XdsStream {
  private readonly id = ++streamIds;
  private readonly log: Logger;
  private units: string[] = [];
  private lastNonce = '';
  /** Version of each unit last sent on this stream, so a push sends only what changed. */
  private readonly sent = new Map<string, string>();
  /** The version the proxy last accepted. */
  acked = '';
  private closed = false;
  private closeListeners: Array<() => void> = [];

  constructor(
    private readonly call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    private readonly deps: XdsStreamDeps,
  ) {
    this.log = deps.logger.child({ xdsStream: this.id, type: deps.type.kind });
    call.on('data', (req: DiscoveryRequest) => this.onRequest(req));
    call.on('end', () => this.end());
    call.on('cancelled', () => this.close());
    call.on('error', (err: Error) => {
      this.log.warn({ err: err.message }, `${deps.type.kind} stream error`);
      this.close();
    });
    call.on('close', () => this.close());
  }

  get kind(): string {
    return this.deps.type.kind;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Sends every subscribed unit whose version differs from what this stream last got. */
  push(): void {
    for (const unit of this.units) {
      const current = this.deps.type.current(unit);
      if (current && this.sent.get(unit) !== current.version) this.send(unit, current);
    }
  }

  end(): void {
    if (this.closed) return;
    this.call.end();
    this.close();
  }

  private onRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    const { kind } = this.deps.type;
    const problem = this.validate(req);
    if (problem) {
      this.log.warn({ problem }, `malformed ${kind} request; ending the stream`);
      this.call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const nonce = req.response_nonce ?? '';
    const names = req.resource_names ?? [];
    if (nonce !== '' && nonce !== this.lastNonce) {
      this.log.debug({ nonce, latest: this.lastNonce }, `stale ${kind} nonce ignored`);
      return;
    }
    if (nonce !== '' && req.error_detail) {
      this.deps.onNack();
      this.log.warn({ resources: names, version: req.version_info ?? '', error: truncate(req.error_detail.message ?? '', 512) }, `proxy rejected (NACK) the ${kind} response`);
      return;
    }
    if (nonce !== '') this.acked = req.version_info ?? '';
    const unknown = names.filter((n) => !this.deps.type.isKnown(n));
    if (unknown.length > 0) this.log.warn({ resources: unknown }, `${kind} request names resources this agent does not serve; they will not be sent`);
    const units = this.deps.type.units(names);
    const fresh = nonce === '' ? units : units.filter((u) => !this.units.includes(u));
    this.units = units;
    for (const gone of [...this.sent.keys()]) if (!units.includes(gone)) this.sent.delete(gone);
    for (const unit of fresh) {
      const current = this.deps.type.current(unit);
      // Nothing to send yet (no SVID so far): the source's next change pushes it.
      if (current) this.send(unit, current);
    }
  }

  private validate(req: DiscoveryRequest): string | null {
    const { typeUrl, maxNames } = this.deps.type;
    if (req.type_url && req.type_url !== typeUrl) return `type_url must be ${typeUrl}, got "${truncate(req.type_url)}"`;
    const names = req.resource_names ?? [];
    if (names.length > maxNames) return `at most ${maxNames} resource names per request`;
    if (names.some((n) => n.length === 0 || n.length > MAX_NAME_LENGTH)) return `resource names must be 1 to ${MAX_NAME_LENGTH} characters`;
    return null;
  }

  private send(unit: string, current: VersionedResources): void {
    const nonce = `${this.id}-${++nonces}`;
    const { typeUrl, kind } = this.deps.type;
    this.lastNonce = nonce;
    this.sent.set(unit, current.version);
    this.call.write({
      version_info: current.version,
      resources: current.resources.map((value) => ({ type_url: typeUrl, value })),
      type_url: typeUrl,
      nonce,
    });
    this.deps.onPush(unit);
    this.log.debug({ unit, version: current.version, resources: current.resources.length }, `${kind} response sent`);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l();
    this.closeListeners = [];
  }
}

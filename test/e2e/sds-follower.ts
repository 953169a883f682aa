import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from '../../src/agent/sds-protos.js';
import { decodeSecret, sdsClient } from '../agent/helpers.js';

export interface HeldSvid {
  chainPem: string;
  keyPem: string;
  chain: X509Certificate[];
  receivedAt: number;
}

export interface HeldRoots {
  pem: string;
  certs: X509Certificate[];
  receivedAt: number;
}

const NAMES = ['default', 'ROOTCA'];

/**
 * What Envoy does with the agent's SDS socket: one StreamSecrets stream subscribed to `default` and
 * `ROOTCA`, every response checked and ACKed (or NACKed) with its nonce, the latest of each kept.
 */
export class SdsFollower {
  svid: HeldSvid | null = null;
  roots: HeldRoots | null = null;
  /** Everything that would have made Envoy reject a push or serve something invalid. */
  readonly problems: string[] = [];
  pushes = 0;
  /** Every accepted push, in order: which leaf and which roots this proxy held from when. */
  readonly leafHistory: Array<{ at: number; chain: X509Certificate[] }> = [];
  readonly rootsHistory: Array<{ at: number; fingerprints: string[] }> = [];
  ended: grpc.StatusObject | null = null;
  private readonly client;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly listeners: Array<() => void> = [];

  constructor(readonly name: string, socketPath: string) {
    this.client = sdsClient(socketPath);
    this.call = (this.client.client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamSecrets();
    this.call.on('data', (res: DiscoveryResponse) => this.onResponse(res));
    this.call.on('error', () => undefined);
    this.call.on('status', (s: grpc.StatusObject) => (this.ended = s));
    this.call.write({ type_url: SECRET_TYPE_URL, node: { id: `sidecar~${name}` }, resource_names: NAMES });
  }

  /** Called after each accepted push (the handshake loop tries the new material at once). */
  onPush(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private onResponse(res: DiscoveryResponse): void {
    const now = Date.now();
    let error: string | null = null;
    try {
      const secret = decodeSecret(res);
      if (secret.name === 'default') {
        const chainPem = secret.tls_certificate!.certificate_chain!.inline_bytes!.toString();
        const keyPem = secret.tls_certificate!.private_key!.inline_bytes!.toString();
        const chain = certsOf(chainPem);
        const leaf = chain[0]!;
        if (!leaf.publicKey.equals(createPublicKey(createPrivateKey(keyPem)))) error = 'private key does not match the leaf';
        else if (Date.parse(leaf.validTo) <= now) error = `leaf expired at ${leaf.validTo}`;
        else if (Date.parse(leaf.validFrom) > now) error = `leaf not valid before ${leaf.validFrom}`;
        else {
          this.svid = { chainPem, keyPem, chain, receivedAt: now };
          this.leafHistory.push({ at: now, chain });
        }
      } else if (secret.name === 'ROOTCA') {
        const pem = secret.validation_context!.trusted_ca!.inline_bytes!.toString();
        const certs = certsOf(pem);
        if (certs.length === 0) error = 'ROOTCA holds no certificate';
        else {
          this.roots = { pem, certs, receivedAt: now };
          this.rootsHistory.push({ at: now, fingerprints: certs.map((c) => c.fingerprint256) });
        }
      } else error = `unrequested secret ${secret.name}`;
    } catch (err) {
      error = `undecodable response: ${(err as Error).message}`;
    }
    const ack: DiscoveryRequest = { type_url: SECRET_TYPE_URL, resource_names: NAMES, response_nonce: res.nonce };
    if (error) {
      this.problems.push(`${new Date(now).toISOString()} ${this.name}: ${error}`);
      this.call.write({ ...ack, error_detail: { code: 3, message: error } });
      return;
    }
    this.pushes++;
    this.call.write({ ...ack, version_info: res.version_info });
    for (const l of this.listeners) l();
  }
}

export function certsOf(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

/** The root (of `roots`) the chain's top certificate was signed by, or null. */
export function anchorOf(chain: X509Certificate[], roots: X509Certificate[]): X509Certificate | null {
  for (let i = 0; i + 1 < chain.length; i++) if (!chain[i]!.verify(chain[i + 1]!.publicKey)) return null;
  const top = chain[chain.length - 1]!;
  return roots.find((r) => top.checkIssued(r) && top.verify(r.publicKey)) ?? null;
}

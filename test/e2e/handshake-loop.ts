import type { X509Certificate } from 'node:crypto';
import { mutualHandshake } from './mtls.js';
import { anchorOf, type SdsFollower } from './sds-follower.js';

export interface Workload {
  spiffeId: string;
  sds: SdsFollower;
}

export interface Attempt {
  at: number;
  server: string;
  client: string;
  ok: boolean;
  error?: string;
  /** Fingerprint of the root each side's leaf chains to (of all roots seen so far), or "none". */
  serverAnchor: string;
  clientAnchor: string;
  /** Fingerprints of each side's ROOTCA at the time. */
  serverTrusts: string[];
  clientTrusts: string[];
}

/**
 * Handshakes between two workloads every `intervalMs`, alternating who serves, with each one's latest SDS
 * material, and at once whenever either gets a push: a new leaf is tried before the peer could hide a gap.
 */
export class HandshakeLoop {
  readonly attempts: Attempt[] = [];
  /** Every root either workload has ever trusted, by fingerprint. */
  readonly rootsSeen = new Map<string, X509Certificate>();
  private stopped = false;
  private wake: (() => void) | null = null;
  /** A push arrived while a handshake ran: the next one starts without waiting. */
  private pushed = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly a: Workload, private readonly b: Workload, private readonly intervalMs: number) {
    for (const w of [a, b]) {
      w.sds.onPush(() => {
        this.pushed = true;
        this.wake?.();
      });
    }
  }

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const flip = this.attempts.length % 2 === 1;
      this.pushed = false;
      await this.once(flip ? this.b : this.a, flip ? this.a : this.b);
      if (this.pushed || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(done, this.intervalMs);
        this.wake = done;
      });
    }
  }

  private async once(server: Workload, client: Workload): Promise<void> {
    const s = server.sds;
    const c = client.sds;
    if (!s.svid || !s.roots || !c.svid || !c.roots) return;
    for (const r of [...s.roots.certs, ...c.roots.certs]) this.rootsSeen.set(r.fingerprint256, r);
    const all = [...this.rootsSeen.values()];
    const attempt: Attempt = {
      at: Date.now(), server: server.spiffeId, client: client.spiffeId, ok: false,
      serverAnchor: anchorOf(s.svid.chain, all)?.fingerprint256 ?? 'none',
      clientAnchor: anchorOf(c.svid.chain, all)?.fingerprint256 ?? 'none',
      serverTrusts: s.roots.certs.map((r) => r.fingerprint256),
      clientTrusts: c.roots.certs.map((r) => r.fingerprint256),
    };
    const expired = [s, c].filter((f) => Date.parse(f.svid!.chain[0]!.validTo) <= attempt.at).map((f) => f.name);
    try {
      if (expired.length > 0) throw new Error(`the latest leaf of ${expired.join(' and ')} has expired`);
      const seen = await mutualHandshake(
        { spiffeId: server.spiffeId, chainPem: s.svid.chainPem, keyPem: s.svid.keyPem, rootsPem: s.roots.pem },
        { spiffeId: client.spiffeId, chainPem: c.svid.chainPem, keyPem: c.svid.keyPem, rootsPem: c.roots.pem },
      );
      if (seen.serverSaw !== client.spiffeId || seen.clientSaw !== server.spiffeId) throw new Error(`peers saw ${JSON.stringify(seen)}`);
      attempt.ok = true;
    } catch (err) {
      attempt.error = (err as Error).message;
    }
    this.attempts.push(attempt);
  }
}

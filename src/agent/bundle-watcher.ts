import { readFile } from 'node:fs/promises';
import type { Logger } from '../common/log.js';
import { splitCertificates } from './svid.js';
import type { SvidStore } from './svid-store.js';
import type { Timers } from './timers.js';

/**
 * Follows the mounted trust bundle (ConfigMap meshid-ca-root-cert). During a root rotation the new root
 * appears there before any certificate chains to it; pushing it to Envoy as ROOTCA right away is what lets
 * peers with new-root certificates be accepted. Polls rather than watches: kubelet updates ConfigMap volumes
 * by swapping symlinks, which inotify-based watches miss.
 */
export class BundleWatcher {
  private last = '';
  private cancel: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly o: { file: string; store: SvidStore; timers: Timers; intervalMs: number; logger: Logger },
  ) {}

  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  async check(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.o.file, 'utf8');
    } catch {
      return; // absent until the volume is populated; the CA's answers still carry the bundle
    }
    if (text === this.last) return;
    const first = this.last === '';
    this.last = text;
    try {
      const roots = splitCertificates(text, this.o.file);
      if (!this.o.store.setBundle(roots)) return;
      // The first read is the bundle the agent starts with, not a rotation: only later differences are news.
      if (first) this.o.logger.debug({ file: this.o.file, roots: roots.length }, 'trust bundle loaded');
      else this.o.logger.info({ file: this.o.file, roots: roots.length }, 'trust bundle changed; pushing ROOTCA');
    } catch (err) {
      this.o.logger.warn({ file: this.o.file }, `ignoring the trust bundle file: ${(err as Error).message}`);
    }
  }

  private tick(): void {
    if (this.stopped) return;
    void this.check().finally(() => {
      if (!this.stopped) this.cancel = this.o.timers.after(this.o.intervalMs, () => this.tick());
    });
  }
}

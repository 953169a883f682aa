import { request } from 'node:https';
import { truncate } from '../common/text.js';
import type { Logger } from '../common/log.js';
import { VIEW_PATH, VIEW_WAIT_SECONDS } from '../ca/view-api.js';
import { epochOf } from '../mesh/version.js';
import { applyViewUpdate, ViewUpdateError, type ViewSource, type ViewUpdate, type WorkloadView } from '../mesh/view.js';
import { agentFor, CaError, connectionError } from './ca-client.js';
import type { Timers } from './timers.js';

export interface ViewClientOptions {
  caUrl: string;
  trustedRoots(): Promise<string[]>;
  trustSource: string;
  /** The projected token, read afresh for each request (kubelet rotates it). */
  token(): Promise<string>;
  pod: string;
  timers: Timers;
  random: () => number;
  logger: Logger;
  backoff?: { baseMs: number; maxMs: number };
  waitSeconds?: number;
}

/** A full view of a large mesh is a few MB; far more is not a view. */
const MAX_VIEW_BYTES = 64 * 1024 * 1024;

/**
 * Follows this pod's view from the control plane by long-poll (GET /v1/workload-view, since= the version held),
 * applying each update to the last good view. Through an outage the last good view stays; retries back off with
 * jitter, and the outage is one warning when it starts and one line when it ends.
 */
export class ViewClient implements ViewSource {
  private view: WorkloadView | null = null;
  private readonly listeners = new Set<(v: WorkloadView) => void>();
  private stopped = true;
  private closed = false;
  /** Ends the poll in flight, or one about to start, when the agent stops. */
  private readonly abort = new AbortController();
  private cancelSleep: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private outage = false;

  constructor(private readonly o: ViewClientOptions) {}

  current(): WorkloadView | null {
    return this.view;
  }

  onChange(listener: (view: WorkloadView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.closed || !this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    this.abort.abort();
    this.cancelSleep?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const update = await this.poll(this.view?.version);
        if (this.stopped) return;
        if (update) this.accept(update);
        if (this.outage) this.o.logger.info({ pod: this.o.pod, version: this.view?.version }, 'mesh view from the control plane restored');
        this.outage = false;
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        const backoff = this.o.backoff ?? { baseMs: 500, maxMs: 30_000 };
        const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** failures++) * (0.5 + this.o.random() / 2);
        const fields = { pod: this.o.pod, code: (err as CaError).code, err: (err as Error).message, retryInMs: Math.round(delay) };
        if (!this.outage) this.o.logger.warn(fields, 'cannot get the mesh view from the control plane; keeping the last good view and retrying');
        else this.o.logger.debug(fields, 'mesh view still unavailable');
        this.outage = true;
        await new Promise<void>((resolve) => {
          const cancel = this.o.timers.after(delay, resolve);
          this.cancelSleep = () => { cancel(); resolve(); };
        });
        this.cancelSleep = null;
      }
    }
  }

  private accept(update: ViewUpdate): void {
    try {
      // A delta is against the view held; one of another control plane start cannot be.
      if (!update.full && epochOf(update.version) !== epochOf(this.view?.version)) throw new ViewUpdateError(`delta ${update.version} is not of the epoch of the view held (${this.view?.version || 'none'})`);
      this.view = applyViewUpdate(this.view, update);
    } catch (err) {
      if (!(err instanceof ViewUpdateError)) throw err;
      // A delta for a view we do not hold: keep the last good view and ask for a full one.
      this.o.logger.warn({ pod: this.o.pod, err: err.message }, 'mesh view update did not apply; asking for a full view');
      this.view = this.view ? { ...this.view, version: '' } : null;
      return;
    }
    for (const l of [...this.listeners]) l(this.view);
  }

  /** One long-poll: the update, or null when the control plane had nothing new (204). */
  private async poll(since: string | undefined): Promise<ViewUpdate | null> {
    const wait = this.o.waitSeconds ?? VIEW_WAIT_SECONDS;
    const url = new URL(VIEW_PATH, this.o.caUrl);
    url.searchParams.set('pod', this.o.pod);
    if (since) url.searchParams.set('since', since);
    if (this.o.waitSeconds !== undefined) url.searchParams.set('waitSeconds', String(wait));
    const [token, roots] = await Promise.all([this.o.token(), this.o.trustedRoots()]);
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const r = request(url, { agent: agentFor(roots), signal: this.abort.signal, headers: { authorization: `Bearer ${token}` }, timeout: (wait + 15) * 1000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_VIEW_BYTES) r.destroy(new CaError('view_too_large', `the control plane sent a view larger than ${MAX_VIEW_BYTES} bytes`, true));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new CaError('view_timeout', `the control plane at ${url.origin} did not answer the view poll in time`, true)));
      r.on('error', (err: Error & { code?: string }) => reject(connectionError(err, url.origin, this.o.trustSource)));
      r.end();
    });
    if (status === 204) return null;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CaError('invalid_view_response', `the control plane answered HTTP ${status} with a body that is not JSON`, true);
    }
    if (status !== 200) {
      const e = (body as { error?: { code?: unknown; message?: unknown } })?.error;
      const code = typeof e?.code === 'string' ? truncate(e.code, 64) : `http_${status}`;
      throw new CaError(code, `the control plane refused the view request (HTTP ${status}, ${code}): ${typeof e?.message === 'string' ? truncate(e.message, 300) : 'no message'}`, true);
    }
    const u = body as ViewUpdate;
    if (typeof u?.version !== 'string' || typeof u.full !== 'boolean' || !Array.isArray(u.upserts) || !Array.isArray(u.removes)) {
      throw new CaError('invalid_view_response', 'the control plane sent a view update without version, full, upserts and removes', true);
    }
    return u;
  }
}

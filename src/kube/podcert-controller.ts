import type { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Answer } from '../ca/podcert/answer.js';
import { answeredAs, CONDITION, apiTime, type PodCertificateRequest } from '../ca/podcert/request.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { apiStatus, describeApiError } from './api-errors.js';
import { CERTIFICATES_GROUP, customObjects, PCR_PLURAL } from './certificates-api.js';

export interface PodCertificateControllerOptions {
  config: KubeConfig;
  watch: Watch;
  /** The served version discovery found: v1beta1 or v1. */
  version: string;
  signerName: string;
  /** The pure decision, with the CA that signs right now and the time. */
  answer: (req: PodCertificateRequest) => Answer | Promise<Answer>;
  /** Status writes in flight at once. */
  concurrency?: number;
  retryMs?: number;
  now?: () => number;
  log?: Logger;
  onAnswered?: (outcome: string, reason: string) => void;
}

type Outcome = 'written' | 'gone' | 'retry';

/**
 * Answers every PodCertificateRequest for one signer exactly once. It lists, then watches from the list's
 * resourceVersion (relisting whenever the watch ends), so a request made while no replica led is found by the
 * next leader. Each answer is one status write carrying the resourceVersion it was decided on: if anyone
 * answered (or changed) the request meanwhile the API server says 409, and the request is read again rather
 * than answered twice. A write that fails for any other reason is retried, so none stays pending.
 */
export class PodCertificateController {
  private readonly o: Required<Omit<PodCertificateControllerOptions, 'onAnswered'>> & Pick<PodCertificateControllerOptions, 'onAnswered'>;
  private readonly custom: CustomObjectsApi;
  /** Requests for this signer not yet answered, by namespace/name: the latest copy seen. */
  private readonly pending = new Map<string, PodCertificateRequest>();
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  private workers = 0;
  private stopped = true;
  private abort: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(opts: PodCertificateControllerOptions) {
    this.o = { concurrency: 16, retryMs: 2000, now: Date.now, log: silentLogger, ...opts };
    this.custom = customObjects(opts.config);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.listAndWatch();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private async listAndWatch(): Promise<void> {
    const { version, signerName, log } = this.o;
    const fieldSelector = `spec.signerName=${signerName}`;
    while (!this.stopped) {
      try {
        const list = await this.custom.listClusterCustomObject({ group: CERTIFICATES_GROUP, version, plural: PCR_PLURAL, fieldSelector }) as {
          metadata?: { resourceVersion?: string }; items?: PodCertificateRequest[];
        };
        const listed = new Set<string>();
        for (const item of list.items ?? []) {
          listed.add(keyOf(item));
          this.see(item);
        }
        // Deleted while no watch was open: nothing will say so otherwise.
        for (const key of this.pending.keys()) if (!listed.has(key) && !this.inFlight.has(key)) this.pending.delete(key);
        await this.watchFrom(list.metadata?.resourceVersion ?? '', fieldSelector);
      } catch (err) {
        if (!this.stopped) log.warn({ err: describeApiError(err) }, 'listing PodCertificateRequests failed; retrying');
      }
      if (!this.stopped) await new Promise<void>((resolve) => { this.retryTimer = setTimeout(resolve, this.o.retryMs); this.retryTimer.unref(); });
    }
  }

  /** Resolves when the stream ends: closed by the server, a 410 Gone (too old a version), or stop(). */
  private watchFrom(resourceVersion: string, fieldSelector: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const path = `/apis/${CERTIFICATES_GROUP}/${this.o.version}/${PCR_PLURAL}`;
      this.o.watch.watch(path, { resourceVersion, allowWatchBookmarks: true, fieldSelector }, (type, obj) => {
        if (type === 'DELETED') this.forget(obj as PodCertificateRequest);
        else if (type === 'ADDED' || type === 'MODIFIED') this.see(obj as PodCertificateRequest);
      }, () => resolve()).then((c) => {
        this.abort = c;
        if (this.stopped) c.abort();
      }, reject);
    });
  }

  private see(req: PodCertificateRequest): void {
    const key = keyOf(req);
    if (req.spec?.signerName !== this.o.signerName || answeredAs(req)) {
      this.pending.delete(key);
      return;
    }
    this.pending.set(key, req);
    if (this.queued.has(key) || this.inFlight.has(key)) return;
    this.queued.add(key);
    this.pump();
  }

  private forget(req: PodCertificateRequest): void {
    this.pending.delete(keyOf(req));
  }

  private pump(): void {
    while (!this.stopped && this.workers < this.o.concurrency && this.queued.size > 0) {
      this.workers++;
      void this.work().finally(() => {
        this.workers--;
        this.pump();
      });
    }
  }

  private async work(): Promise<void> {
    for (let key = first(this.queued); key !== undefined && !this.stopped; key = first(this.queued)) {
      this.queued.delete(key);
      const req = this.pending.get(key);
      if (!req) continue;
      this.inFlight.add(key);
      let outcome: Outcome = 'retry';
      try {
        outcome = await this.answer(req);
      } catch (err) {
        this.o.log.warn({ request: key, err: describeApiError(err) }, 'answering a PodCertificateRequest failed; will retry');
      } finally {
        this.inFlight.delete(key);
      }
      // Still unanswered (a failed write, or a newer copy seen while this one was in flight): go again.
      if (this.stopped || !this.pending.has(key) || this.queued.has(key)) continue;
      if (outcome === 'retry') this.later(key);
      else this.queued.add(key);
    }
  }

  private later(key: string): void {
    const t = setTimeout(() => {
      if (this.pending.has(key) && !this.stopped && !this.queued.has(key)) {
        this.queued.add(key);
        this.pump();
      }
    }, this.o.retryMs);
    t.unref();
  }

  private async answer(req: PodCertificateRequest): Promise<Outcome> {
    const decided = await this.o.answer(req);
    if (decided.kind === 'skip') {
      this.pending.delete(keyOf(req));
      return 'gone';
    }
    const result = await this.write(req, decided.status);
    if (result === 'written') {
      this.o.onAnswered?.(decided.outcome, decided.reason);
      if (decided.outcome !== CONDITION.issued) this.o.log.info({ request: keyOf(req), outcome: decided.outcome, reason: decided.reason }, 'PodCertificateRequest refused');
      return 'written';
    }
    if (result !== 'invalid') return result;
    // The API server refused our answer: say so on the request rather than leave it waiting.
    const message = `the API server refused meshid's answer (${decided.reason}); see the control plane's log`;
    const failed = { conditions: [{ type: CONDITION.failed, status: 'True' as const, reason: 'AnswerRejected', message, lastTransitionTime: apiTime(this.o.now()) }] };
    const second = await this.write(req, failed);
    if (second === 'written') this.o.onAnswered?.(CONDITION.failed, 'AnswerRejected');
    return second === 'invalid' ? 'gone' : second;
  }

  private async write(req: PodCertificateRequest, status: PodCertificateRequest['status']): Promise<Outcome | 'invalid'> {
    const { namespace = '', name = '' } = req.metadata;
    try {
      await this.custom.replaceNamespacedCustomObjectStatus({
        group: CERTIFICATES_GROUP, version: this.o.version, plural: PCR_PLURAL, namespace, name,
        body: { apiVersion: `${CERTIFICATES_GROUP}/${this.o.version}`, kind: 'PodCertificateRequest', metadata: req.metadata, spec: req.spec, status },
      });
      this.pending.delete(keyOf(req));
      return 'written';
    } catch (err) {
      const code = apiStatus(err);
      if (code === 404) {
        this.pending.delete(keyOf(req));
        return 'gone';
      }
      if (code === 409) return this.reread(namespace, name);
      if (code === 422) {
        this.o.log.warn({ request: `${namespace}/${name}`, err: describeApiError(err) }, 'the API server refused a PodCertificateRequest status');
        return 'invalid';
      }
      this.o.log.warn({ request: `${namespace}/${name}`, err: describeApiError(err) }, 'writing a PodCertificateRequest status failed; will retry');
      return 'retry';
    }
  }

  /** After a conflict: another replica answered (leave it) or something else changed it (answer the new copy). */
  private async reread(namespace: string, name: string): Promise<Outcome> {
    try {
      const fresh = await this.custom.getNamespacedCustomObject({ group: CERTIFICATES_GROUP, version: this.o.version, plural: PCR_PLURAL, namespace, name }) as PodCertificateRequest;
      this.see(fresh);
      return 'gone';
    } catch (err) {
      if (apiStatus(err) === 404) {
        this.pending.delete(`${namespace}/${name}`);
        return 'gone';
      }
      return 'retry';
    }
  }
}

function keyOf(req: PodCertificateRequest): string {
  return `${req.metadata?.namespace ?? ''}/${req.metadata?.name ?? ''}`;
}

function first<T>(set: Set<T>): T | undefined {
  for (const v of set) return v;
  return undefined;
}

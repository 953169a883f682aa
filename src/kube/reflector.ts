import type { Watch } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { apiStatus, describeApiError } from './api-errors.js';

/** How often a resource the API lacks is asked for again. */
const ABSENT_RETRY_MS = 30_000;

type Obj = { metadata?: { name?: string; namespace?: string; resourceVersion?: string } } & Record<string, unknown>;

export interface ReflectorOptions {
  /** What the cache is of, for logs: `pods`, `peerauthentications`, … */
  what: string;
  watch: Watch;
  /** API path of the collection across namespaces, e.g. /api/v1/pods. */
  path: string;
  list(): Promise<{ items: Obj[]; resourceVersion: string }>;
  onUpsert(obj: Obj): void;
  onDelete(obj: Obj): void;
  /** After each complete list, the first one included: the cache is whole. */
  onSynced?(): void;
  retryMs: number;
  /** A resource the API may not have (a CRD not installed yet): a 404 counts as empty, and is asked again later. */
  optional?: boolean;
  /** A full relist this often, in case an event was ever lost; between them only the watch. */
  resyncMs: number;
  log: Logger;
}

/**
 * One list, then a watch from the list's resourceVersion, resumed from the last event's resourceVersion each time
 * the stream ends: a change costs one event, never a relist. A relist happens only at start, when the server says
 * the version is too old (410 Gone), and every `resyncMs`; it is diffed against the cache so a deletion missed
 * in between is still seen.
 */
export function startReflector(o: ReflectorOptions): () => void {
  const cache = new Map<string, Obj>();
  let resourceVersion = '';
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastList = 0;
  let absent = false;
  const keyOf = (obj: Obj) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

  const later = (fn: () => void, ms: number): void => {
    if (stopped) return;
    timer = setTimeout(fn, ms);
    timer.unref();
  };

  const relist = async (): Promise<void> => {
    const { items, resourceVersion: rv } = await o.list();
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      if (cache.get(key)?.metadata?.resourceVersion === item.metadata?.resourceVersion) continue;
      cache.set(key, item);
      o.onUpsert(item);
    }
    for (const [key, obj] of cache) {
      if (seen.has(key)) continue;
      cache.delete(key);
      o.onDelete(obj);
    }
    resourceVersion = rv;
    lastList = Date.now();
    o.onSynced?.();
  };

  const onEvent = (type: string, obj: Obj): void => {
    if (type === 'ERROR') {
      if ((obj as { code?: unknown }).code === 410) resourceVersion = '';
      return;
    }
    if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED') {
      cache.set(keyOf(obj), obj);
      o.onUpsert(obj);
    } else if (type === 'DELETED') {
      cache.delete(keyOf(obj));
      o.onDelete(obj);
    }
  };

  const run = async (): Promise<void> => {
    if (stopped) return;
    try {
      if (!resourceVersion || Date.now() - lastList >= o.resyncMs) await relist();
      absent = false;
    } catch (err) {
      if (o.optional && apiStatus(err) === 404) {
        if (!absent) o.log.warn({ resource: o.what }, `the API has no ${o.what} (is its CustomResourceDefinition installed?); none are in force until it does`);
        absent = true;
        for (const obj of cache.values()) o.onDelete(obj);
        cache.clear();
        o.onSynced?.();
        return later(run, Math.max(o.retryMs, ABSENT_RETRY_MS));
      }
      o.log.warn({ resource: o.what, err: describeApiError(err) }, 'list failed; retrying');
      return later(run, o.retryMs);
    }
    if (stopped) return;
    o.watch.watch(o.path, { resourceVersion, allowWatchBookmarks: 'true' }, onEvent as (t: string, x: unknown) => void, (err) => {
      controller = undefined;
      if (stopped) return;
      if (err && (err as Error).name !== 'AbortError') {
        if (apiStatus(err) === 410) resourceVersion = '';
        else o.log.warn({ resource: o.what, err: describeApiError(err) }, 'watch failed; resuming');
        return later(run, o.retryMs);
      }
      // A watch the server ended normally resumes at once from where it stopped.
      later(run, 0);
    }).then((c) => {
      controller = c;
      if (stopped) c.abort();
    }, (err) => {
      if (apiStatus(err) === 410) resourceVersion = '';
      else o.log.warn({ resource: o.what, err: describeApiError(err) }, 'watch could not start; retrying');
      later(run, o.retryMs);
    });
  };

  void run();
  const resync = setInterval(() => {
    // Ending the stream makes run() relist, since the resync is due.
    if (Date.now() - lastList >= o.resyncMs) controller?.abort();
  }, Math.min(o.resyncMs, 60_000));
  resync.unref();
  return () => {
    stopped = true;
    clearInterval(resync);
    if (timer) clearTimeout(timer);
    controller?.abort();
  };
}

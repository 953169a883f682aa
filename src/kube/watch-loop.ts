import type { Watch } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { describeApiError } from './api-errors.js';

export interface WatchLoopOptions {
  watch: Watch;
  /** API path of the collection, e.g. /api/v1/namespaces. */
  path: string;
  query?: Record<string, string>;
  /** Called for every event; `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  onEvent: (type: string, object: unknown) => void;
  /** Called at every (re)connection: events may have been missed while disconnected, so resync. */
  onConnect?: () => void;
  /** Wait before reconnecting after the stream ends or fails. */
  retryMs: number;
  log: Logger;
}

/**
 * A watch that survives its stream ending: the API server closes watches every few minutes and
 * connections drop, so it reconnects until stopped. Events are hints; consumers resync on connect.
 */
export function startWatchLoop(opts: WatchLoopOptions): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;

  const reconnect = (): void => {
    if (stopped) return;
    timer = setTimeout(connect, opts.retryMs);
    timer.unref();
  };

  const connect = (): void => {
    if (stopped) return;
    opts.onConnect?.();
    opts.watch
      .watch(opts.path, opts.query ?? {}, (type, object) => opts.onEvent(type, object), (err) => {
        controller = undefined;
        if (err && !stopped && (err as Error).name !== 'AbortError') {
          opts.log.warn({ path: opts.path, err: describeApiError(err) }, 'watch failed; reconnecting');
        }
        reconnect();
      })
      .then((c) => {
        controller = c;
        if (stopped) c.abort();
      }, (err) => {
        opts.log.warn({ path: opts.path, err: describeApiError(err) }, 'watch could not start; retrying');
        reconnect();
      });
  };

  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
  };
}

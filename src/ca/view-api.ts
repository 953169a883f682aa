import type { FastifyInstance } from 'fastify';
import { MeshidError } from '../common/errors.js';
import type { ViewUpdate } from '../mesh/view.js';
import { bearerToken } from './auth/bearer.js';
import type { Caller, TokenVerifier } from './auth/verifier.js';

export const VIEW_PATH = '/v1/workload-view';
/** How long a poll waits for a change before answering 204; the agent asks again at once. */
export const VIEW_WAIT_SECONDS = 30;
/** How long a waiting poll holds its answer after the first change, to take the changes right behind it too. */
export const VIEW_GATHER_MS = 50;

/** The control plane's mesh view as this route reads it (src/mesh/state.ts in cluster mode). */
export interface ViewProvider {
  /** Every watched resource listed once: until then a view would be missing destinations. */
  ready(): boolean;
  pod(namespace: string, name: string): { uid: string; serviceAccount: string } | undefined;
  /** Full view, delta since `since`, null (nothing new) or undefined (no such live pod). */
  update(namespace: string, name: string, since: string | undefined): ViewUpdate | null | undefined;
  onChange(listener: () => void): () => void;
}

export interface ViewApiDeps {
  /** Undefined where there is no mesh view (local mode). */
  views?: ViewProvider;
  verifier: TokenVerifier;
}

interface ViewQuery {
  pod: string;
  since?: string;
  waitSeconds?: string;
}

const querySchema = {
  type: 'object',
  required: ['pod'],
  additionalProperties: false,
  properties: {
    pod: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
    since: { type: 'string', maxLength: 100 },
    // A string: this server does not coerce types, and query values arrive as text.
    waitSeconds: { type: 'string', pattern: '^[0-9]{1,2}$' },
  },
} as const;

/**
 * GET /v1/workload-view?pod=NAME&since=VERSION: a long-poll. Without `since` (or with one of another epoch, or
 * too old) it answers at once with the full view; otherwise with the delta as soon as there is one, or 204 after
 * `waitSeconds`. The caller is authenticated by its ServiceAccount token, as for certificates, and reads only its
 * own pod's view: the pod the token is bound to, or a pod of its namespace running as its service account.
 */
export function registerViewApi(app: FastifyInstance, deps: ViewApiDeps): void {
  const waiting = new Set<() => void>();
  let closing = false;
  // Waiting polls would hold a shutdown up for their whole wait: they are answered 204, and new ones 503, so
  // agents resume elsewhere.
  app.addHook('preClose', (done) => {
    closing = true;
    for (const end of [...waiting]) end();
    done();
  });
  app.get<{ Querystring: ViewQuery }>(VIEW_PATH, { schema: { querystring: querySchema } }, async (req, reply) => {
    const caller = await deps.verifier.verify(bearerToken(req.headers.authorization));
    const views = deps.views;
    if (!views) throw new MeshidError('view_unavailable', 'this control plane serves no mesh view (local mode); run it in cluster mode', 503);
    if (closing) {
      void reply.header('connection', 'close');
      throw new MeshidError('shutting_down', 'this control plane is shutting down; retry', 503);
    }
    if (!views.ready()) throw new MeshidError('view_not_ready', 'the control plane is still reading the cluster; retry shortly', 503);
    authorize(caller, req.query.pod, views);
    const { pod, since } = req.query;
    const first = views.update(caller.namespace, pod, since);
    const answer = first !== null ? first : await waitForChange(views, () => views.update(caller.namespace, pod, since), Number(req.query.waitSeconds ?? VIEW_WAIT_SECONDS) * 1000, reply.raw, waiting);
    if (answer === undefined) throw podNotFound(caller.namespace, pod);
    if (closing) void reply.header('connection', 'close');
    if (answer === null) return reply.code(204).send();
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer));
  });
}

function authorize(caller: Caller, pod: string, views: ViewProvider): void {
  const target = views.pod(caller.namespace, pod);
  if (caller.pod) {
    if (caller.pod.name !== pod) throw forbidden(`the token is bound to pod ${caller.namespace}/${caller.pod.name}; it may read only that pod's view`);
    if (target && target.uid !== caller.pod.uid) throw forbidden(`the token was issued to an earlier pod named ${caller.namespace}/${pod}`);
  } else if (target && target.serviceAccount !== caller.serviceAccount) {
    throw forbidden(`pod ${caller.namespace}/${pod} does not run as service account ${caller.serviceAccount}`);
  }
  if (!target) throw podNotFound(caller.namespace, pod);
}

const forbidden = (message: string) => new MeshidError('view_forbidden', message, 403);
const podNotFound = (namespace: string, pod: string) => new MeshidError('pod_not_found', `no running pod ${namespace}/${pod} is known to the control plane yet; retry shortly`, 404);

/**
 * Resolves with the answer shortly after the first change that gives one, or null once `ms` pass or the caller
 * hangs up. The short hold gathers a burst of changes (a rollout) into one answer per agent instead of one each.
 */
function waitForChange<T>(views: ViewProvider, ask: () => T | null, ms: number, raw: NodeJS.EventEmitter, waiting: Set<() => void>): Promise<T | null> {
  return new Promise((resolve) => {
    const end = (): void => finish(null);
    waiting.add(end);
    let gather: NodeJS.Timeout | undefined;
    const finish = (v: T | null): void => {
      waiting.delete(end);
      clearTimeout(timer);
      clearTimeout(gather);
      unsubscribe();
      raw.off('close', onClose);
      resolve(v);
    };
    const onClose = (): void => finish(null);
    const timer = setTimeout(() => finish(null), ms);
    const unsubscribe = views.onChange(() => {
      if (gather || ask() === null) return;
      gather = setTimeout(() => finish(ask()), VIEW_GATHER_MS);
    });
    raw.once('close', onClose);
  });
}

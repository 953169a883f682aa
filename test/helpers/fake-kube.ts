import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { admitPodCreate, type UserInfo, type WebhookCall } from './fake-admission.js';
import { admitCertificatesWrite, refuseStatusResourceUpdate } from './fake-certificates.js';
import {
  apiDiscovery, belongs, discoveryDocument, type FieldFilter, groupOf, keyOf, KINDS, type KubeObject, NAMESPACE_NAME_LABEL, parseFieldSelector, parsePath, readBody, sendJson, sendStatus,
  STATUS_SUBRESOURCE, type Target, undecodable, verbOf,
} from './fake-kube-routes.js';
import type { ServiceResolver } from './webhook-call.js';
import type { MutatingWebhookConfiguration } from './webhook-match.js';

/** One API call as an RBAC authorizer sees it. `name` is set for list/watch with a metadata.name field selector. */
export interface RecordedCall {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** For non-resource URLs such as /openid/v1/jwks. */
  path?: string;
  /** certificates.k8s.io only: the API version called, which discovery chose. */
  version?: string;
}

interface Watcher { target: Target; filter: FieldFilter; res: ServerResponse }

/**
 * Enough of the Kubernetes API, over real HTTP, for the real client library: CRUD with resourceVersion
 * conflicts, list and watch (with metadata.name and pods' spec.nodeName field selectors), JSON patch, TokenReview (answered by a
 * test-supplied function) and the service account issuer discovery documents. Every call is recorded.
 * A pod created through the API is admitted as kube-apiserver admits it (fake-admission.ts).
 */
export class FakeKube {
  readonly calls: RecordedCall[] = [];
  tokenReview: (token: string, audiences: string[]) => Record<string, unknown> | Promise<Record<string, unknown>> = () => ({ authenticated: false, error: 'no reviewer configured' });
  /** Calls for which this returns true are refused with 403 Forbidden, as RBAC would. */
  forbid: (call: RecordedCall) => boolean = () => false;
  /** Resources this API server does not have (a CRD not installed): every call on them is 404, as there. */
  readonly missing = new Set<string>();
  /** Runs before each call is served: lets a test change the cluster at exactly that moment. */
  beforeCall: (call: RecordedCall) => void = () => {};
  oidc: { issuer: string; jwks: unknown } = { issuer: 'https://kubernetes.default.svc.cluster.local', jwks: { keys: [] } };
  /** Where a webhook's Service is served; by default no Service has endpoints, so every service webhook call fails. */
  resolveService: ServiceResolver = () => undefined;
  /** Who every request is authenticated as, in the userInfo webhooks see. */
  user: UserInfo = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
  /** Every admission webhook call, in order. */
  readonly webhookCalls: WebhookCall[] = [];
  now: () => number = Date.now;
  /** The versions served of resources that exist in several (discovery answers from this). */
  served: Record<string, string[]> = { podcertificaterequests: ['v1beta1'], clustertrustbundles: ['v1beta1'] };
  /** Accepted writes to each object's /status, by namespace/name: an answer given twice would show here. */
  readonly statusWrites = new Map<string, number>();
  private readonly objects = new Map<string, KubeObject>();
  private readonly watchers = new Set<Watcher>();
  private readonly server: Server;
  private rv = 1;
  /** Recent events, so a watch from a resourceVersion replays what came after it, as the API server's watch cache does. */
  private readonly history: Array<{ rv: number; target: Target; type: string; obj: KubeObject }> = [];
  /** How many events the watch cache keeps; a watch from before them gets 410 Gone. */
  historyLimit = 100_000;
  private uids = 0;

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => sendStatus(res, 500, 'InternalError', String(err)));
    });
  }

  /** `host`: where to listen; loopback unless something outside this network namespace must reach it. */
  static async start(o: { host?: string } = {}): Promise<FakeKube> {
    const fake = new FakeKube();
    await new Promise<void>((resolve) => fake.server.listen(0, o.host ?? '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  /** A KubeConfig pointing at this server, as the code under test would load one. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'meshid', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'meshid' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** How many watch streams on `resource` are open: a test waits for a watch to be up instead of sleeping. */
  openWatches(resource: string): number {
    return [...this.watchers].filter((w) => w.target.resource === resource).length;
  }

  /** Ends every open watch stream, as an API server does periodically. */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  // Direct state access for tests: the "rest of the cluster" acting, not the code under test.
  put(resource: string, obj: { metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown }): KubeObject {
    const target = { group: groupOf(resource), resource, namespace: obj.metadata.namespace, name: obj.metadata.name };
    const existing = this.objects.get(keyOf(target));
    return this.store(target, structuredClone(obj) as KubeObject, existing ? 'MODIFIED' : 'ADDED');
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.objects.get(keyOf({ group: groupOf(resource), resource, namespace, name }));
    return obj && structuredClone(obj);
  }

  remove(resource: string, namespace: string | undefined, name: string): void {
    const target = { group: groupOf(resource), resource, namespace, name };
    const obj = this.objects.get(keyOf(target));
    if (!obj) return;
    this.objects.delete(keyOf(target));
    this.notify(target, 'DELETED', obj);
  }

  list(resource: string, namespace?: string): KubeObject[] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${groupOf(resource)}/${resource}/${namespace ?? ''}`))
      .map(([, o]) => structuredClone(o));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    if (url.pathname.startsWith('/.well-known/') || url.pathname.startsWith('/openid/')) {
      this.calls.push({ verb: 'get', group: '', resource: '', path: url.pathname });
      const doc = discoveryDocument(url.pathname, this.oidc);
      return doc ? sendJson(res, 200, doc) : sendStatus(res, 404, 'NotFound', `no route for ${url.pathname}`);
    }
    const discovery = apiDiscovery(url.pathname, (r) => this.versionsOf(r));
    if (discovery || /^\/apis(\/[^/]+){0,2}\/?$/.test(url.pathname)) {
      this.calls.push({ verb: 'get', group: '', resource: '', path: url.pathname });
      return discovery ? sendJson(res, 200, discovery) : sendStatus(res, 404, 'NotFound', `the server could not find the requested resource`);
    }
    const target = parsePath(url.pathname);
    if (!target || (target.group && !this.versionsOf(target.resource).includes(target.version!))) return sendStatus(res, 404, 'NotFound', `no route for ${url.pathname}`);
    const isWatch = url.searchParams.get('watch') === 'true';
    const filter = parseFieldSelector(url.searchParams.get('fieldSelector'), target.resource);
    if (typeof filter === 'string') return sendStatus(res, 400, 'BadRequest', filter);
    const verb = verbOf(req.method ?? 'GET', target, isWatch);
    const resource = target.subresource ? `${target.resource}/${target.subresource}` : target.resource;
    const call = { verb, group: target.group, resource, namespace: target.namespace, name: target.name ?? filter.name, ...(target.group === 'certificates.k8s.io' ? { version: target.version } : {}) };
    if (this.missing.has(target.resource)) {
      this.calls.push(call);
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    if (!this.authorize(call)) return sendStatus(res, 403, 'Forbidden', `${resource} is forbidden: User "meshid" cannot ${verb} resource "${resource}"`);

    if (target.resource === 'tokenreviews') return this.review(JSON.parse(body), res);
    const key = keyOf(target);
    const existing = target.name ? this.objects.get(key) : undefined;
    switch (verb) {
      case 'get':
        return existing ? sendJson(res, 200, existing) : this.notFound(res, target);
      case 'list':
        return sendJson(res, 200, { kind: `${KINDS[target.resource]!.kind}List`, apiVersion: KINDS[target.resource]!.apiVersion, metadata: { resourceVersion: String(this.rv) }, items: this.matching(target, filter) });
      case 'watch':
        // "" and "0" mean "any version": the current state first, as for no resourceVersion.
        return this.openWatch(target, filter, ['', '0', null].includes(url.searchParams.get('resourceVersion')) ? undefined : url.searchParams.get('resourceVersion')!, res);
      case 'create': {
        const obj = JSON.parse(body) as KubeObject;
        if (target.resource === 'pods') return this.createPod(target, obj, url, res);
        const created = { ...target, name: obj.metadata.name, namespace: target.namespace };
        const bad = undecodable(target, obj) ?? this.certificatesCheck(target, obj);
        if (bad === 'forbidden') return sendStatus(res, 403, 'Forbidden', `User "meshid" cannot attest for signer ${String((obj.spec as { signerName?: string })?.signerName)}`);
        if (bad) return sendStatus(res, target.group === 'certificates.k8s.io' ? 422 : 400, target.group === 'certificates.k8s.io' ? 'Invalid' : 'BadRequest', bad);
        if (this.objects.has(keyOf(created))) return sendStatus(res, 409, 'AlreadyExists', `${target.resource} "${obj.metadata.name}" already exists`);
        return sendJson(res, 201, this.store(created, obj, 'ADDED'));
      }
      case 'update': {
        if (!existing) return this.notFound(res, target);
        const obj = JSON.parse(body) as KubeObject;
        const sent = obj.metadata.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion) return this.staleConflict(res, target);
        if (STATUS_SUBRESOURCE.has(target.resource)) return this.updateWithStatus(target, existing, obj, res);
        const bad = undecodable(target, obj) ?? this.certificatesCheck(target, obj);
        if (bad === 'forbidden') return sendStatus(res, 403, 'Forbidden', `User "meshid" cannot attest for signer ${String((obj.spec as { signerName?: string })?.signerName)}`);
        if (bad) return sendStatus(res, target.group === 'certificates.k8s.io' ? 422 : 400, target.group === 'certificates.k8s.io' ? 'Invalid' : 'BadRequest', bad);
        return sendJson(res, 200, this.store(target, obj, 'MODIFIED'));
      }
      case 'patch': {
        if (!existing) return this.notFound(res, target);
        let patched: KubeObject;
        try {
          patched = jsonPatch.applyPatch(structuredClone(existing), JSON.parse(body), true, false).newDocument;
        } catch {
          return this.staleConflict(res, target);
        }
        return sendJson(res, 200, this.store(target, patched, 'MODIFIED'));
      }
      case 'delete':
        if (!existing) return this.notFound(res, target);
        this.remove(target.resource, target.namespace, target.name!);
        return sendJson(res, 200, existing);
      default:
        return sendStatus(res, 405, 'MethodNotAllowed', `${req.method} not supported`);
    }
  }

  /** The API path of a pod, unlike put(): admitted by the mutating webhooks and validated against the schema. */
  private async createPod(target: Target, obj: KubeObject, url: URL, res: ServerResponse): Promise<void> {
    if (url.searchParams.has('dryRun')) return sendStatus(res, 400, 'BadRequest', 'dryRun is not supported by the fake API server');
    const result = await admitPodCreate({
      configurations: this.list('mutatingwebhookconfigurations') as unknown as MutatingWebhookConfiguration[],
      namespace: this.get('namespaces', undefined, target.namespace!),
      resolveService: this.resolveService,
      userInfo: this.user,
      record: (call) => this.webhookCalls.push(call),
      exists: (name) => this.objects.has(keyOf({ ...target, name })),
      fieldManager: url.searchParams.get('fieldManager') ?? undefined,
    }, target.namespace!, obj);
    if ('refused' in result) return sendStatus(res, result.refused.code, result.refused.reason, result.refused.message);
    const { uid: _uid, resourceVersion: _rv, ...meta } = result.pod.metadata;
    const created = { ...target, name: meta.name };
    if (this.objects.has(keyOf(created))) return sendStatus(res, 409, 'AlreadyExists', `pods "${meta.name}" already exists`);
    const creationTimestamp = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return sendJson(res, 201, this.store(created, { ...result.pod, metadata: { ...meta, creationTimestamp } }, 'ADDED'));
  }

  private store(target: Target, obj: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    const prior = this.objects.get(keyOf(target));
    const meta = KINDS[target.resource]!;
    const stored: KubeObject = {
      ...obj,
      kind: meta.kind,
      apiVersion: meta.apiVersion,
      metadata: {
        ...obj.metadata,
        // Set on every Namespace by the API server itself, so selectors can name namespaces.
        ...(target.resource === 'namespaces' ? { labels: { ...(obj.metadata.labels as object), [NAMESPACE_NAME_LABEL]: target.name! } } : {}),
        name: target.name!,
        ...(target.namespace ? { namespace: target.namespace } : {}),
        ...(target.group === 'certificates.k8s.io' ? { creationTimestamp: prior?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
        uid: prior?.metadata.uid ?? obj.metadata.uid ?? `uid-${++this.uids}`,
        resourceVersion: String(++this.rv),
      },
    };
    this.objects.set(keyOf(target), stored);
    this.notify(target, type, stored);
    return structuredClone(stored);
  }

  private matching(target: Target, filter: FieldFilter): KubeObject[] {
    return [...this.objects.values()].filter((o) => belongs(o, target, filter, KINDS[target.resource]!.kind));
  }

  private openWatch(target: Target, filter: FieldFilter, fromVersion: string | undefined, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    // Without a resourceVersion a watch starts with the current state, as the real API server does.
    if (fromVersion === undefined) for (const obj of this.matching(target, filter)) res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
    else {
      const from = Number(fromVersion);
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      if (!(from >= oldest - 1) && from < this.rv) {
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', message: `too old resource version: ${fromVersion} (${oldest - 1})`, code: 410 } })}\n`);
        return;
      }
      for (const e of this.history) {
        if (e.rv > from && e.target.resource === target.resource && belongs(e.obj, target, filter, KINDS[target.resource]!.kind)) res.write(`${JSON.stringify({ type: e.type, object: e.obj })}\n`);
      }
    }
    const watcher = { target, filter, res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }

  private notify(target: Target, type: string, obj: KubeObject): void {
    // A deletion is an event of its own with a new resourceVersion, as in etcd.
    const rv = type === 'DELETED' ? ++this.rv : Number(obj.metadata.resourceVersion);
    if (type === 'DELETED') obj = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    this.history.push({ rv, target, type, obj });
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const w of this.watchers) {
      if (w.target.resource === target.resource && belongs(obj, w.target, w.filter, KINDS[target.resource]!.kind)) {
        w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
      }
    }
  }

  /** Records the call and answers whether RBAC allows it. */
  private authorize(call: RecordedCall): boolean {
    this.calls.push(call);
    this.beforeCall(call);
    return !this.forbid(call);
  }

  private versionsOf(resource: string): readonly string[] {
    return this.served[resource] ?? [KINDS[resource]?.apiVersion.split('/')[1] ?? 'v1'];
  }

  private certificatesCheck(target: Target, obj: KubeObject): string | undefined {
    return admitCertificatesWrite(target.resource, obj, (c) => this.authorize(c));
  }

  /** Spec through the resource, status only through /status, as with the real subresource. */
  private updateWithStatus(target: Target, existing: KubeObject, obj: KubeObject, res: ServerResponse): void {
    const refused = refuseStatusResourceUpdate(target, existing, obj, (c) => this.authorize(c));
    if (refused) return sendStatus(res, refused.code, refused.reason, refused.message);
    if (!target.subresource) return sendJson(res, 200, this.store(target, { ...obj, status: existing.status }, 'MODIFIED'));
    const key = `${target.namespace}/${target.name}`;
    this.statusWrites.set(key, (this.statusWrites.get(key) ?? 0) + 1);
    sendJson(res, 200, this.store(target, { ...existing, status: obj.status }, 'MODIFIED'));
  }

  private async review(body: { spec?: { token?: string; audiences?: string[] } }, res: ServerResponse): Promise<void> {
    const status = await this.tokenReview(body.spec?.token ?? '', body.spec?.audiences ?? []);
    sendJson(res, 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: body.spec, status });
  }

  private notFound(res: ServerResponse, t: Target): void {
    sendStatus(res, 404, 'NotFound', `${t.resource} "${t.name}" not found`);
  }

  private staleConflict(res: ServerResponse, t: Target): void {
    sendStatus(res, 409, 'Conflict', `Operation cannot be fulfilled on ${t.resource} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`);
  }
}

/** One call to an admission webhook over HTTPS, and the checks kube-apiserver makes of the answer. */
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { MutatingWebhook } from './webhook-match.js';

/** How the fake reaches a Service: a test points it at the process that plays the Service's pods. */
export type ServiceResolver = (namespace: string, name: string, port: number) => { host: string; port: number } | undefined;

/** The call did not produce a usable answer: subject to the webhook's failurePolicy. */
export class CallError extends Error {}

interface Endpoint {
  host: string;
  port: number;
  servername?: string;
  path: string;
  /** The URL as kube-apiserver names it in errors. */
  url: string;
}

const DEFAULT_TIMEOUT_SECONDS = 10;

export function timeoutSecondsOf(hook: MutatingWebhook): number {
  return hook.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
}

function endpointOf(hook: MutatingWebhook, resolve: ServiceResolver): Endpoint {
  const timeout = `timeout=${timeoutSecondsOf(hook)}s`;
  const { service, url } = hook.clientConfig;
  if (service) {
    const port = service.port ?? 443;
    const servername = `${service.name}.${service.namespace}.svc`;
    const path = `${service.path ?? '/'}?${timeout}`;
    const shown = `https://${servername}:${port}${path}`;
    const at = resolve(service.namespace, service.name, port);
    if (!at) throw new CallError(`failed to call webhook: Post "${shown}": service "${service.namespace}/${service.name}" port ${port} has no endpoints`);
    return { host: at.host, port: at.port, servername, path, url: shown };
  }
  if (!url) throw new CallError('failed to call webhook: clientConfig has neither service nor url');
  const u = new URL(url);
  u.searchParams.append('timeout', `${timeoutSecondsOf(hook)}s`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: Number(u.port || 443), servername: isIP(host) ? undefined : host, path: `${u.pathname}${u.search}`, url: u.toString() };
}

/** POSTs the review, trusting only the caBundle (none: nothing is trusted); resolves with the parsed answer. */
export function callWebhook(hook: MutatingWebhook, resolve: ServiceResolver, review: object): Promise<unknown> {
  const at = endpointOf(hook, resolve);
  const ca = hook.clientConfig.caBundle ? [Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8')] : [];
  const body = JSON.stringify(review);
  const failed = (why: string) => new CallError(`failed to call webhook: Post "${at.url}": ${why}`);
  return new Promise((resolvePromise, reject) => {
    const req = request({
      host: at.host, port: at.port, servername: at.servername, path: at.path, method: 'POST', ca, agent: false,
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(failed(err.message)));
      res.on('end', () => {
        clearTimeout(timer);
        if (res.statusCode !== 200) return reject(failed(`the server responded with the status code ${res.statusCode}`));
        try {
          resolvePromise(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(failed(`the response is not JSON: ${(err as Error).message}`));
        }
      });
    });
    // Go's wording, so a test reads the same reason a cluster operator would.
    const timer = setTimeout(() => req.destroy(new Error('context deadline exceeded')), timeoutSecondsOf(hook) * 1000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(failed(err.message));
    });
    req.end(body);
  });
}

export interface Verdict {
  allowed: boolean;
  /** The JSON Patch text, decoded from base64. */
  patch?: string;
  status?: { code?: number; reason?: string; message?: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** kube-apiserver's VerifyAdmissionResponse for a mutating webhook. */
export function verifyResponse(body: unknown, uid: string): Verdict {
  const invalid = (why: string) => new CallError(`received invalid webhook response: ${why}`);
  if (!isObject(body)) throw invalid('the response is not a JSON object');
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') {
    throw invalid(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${String(body.apiVersion)}, Kind=${String(body.kind)}`);
  }
  const r = body.response;
  if (!isObject(r)) throw invalid('webhook response was absent');
  if (r.uid !== uid) throw invalid(`expected response.uid="${uid}", got "${String(r.uid)}"`);
  if (typeof r.allowed !== 'boolean') throw invalid('response.allowed is not a boolean');
  if (r.status !== undefined && r.status !== null && !isObject(r.status)) throw invalid('response.status is not an object');
  const status = (r.status ?? undefined) as Verdict['status'];
  if (r.patch === undefined || r.patch === null) return { allowed: r.allowed, status };
  if (typeof r.patch !== 'string' || !BASE64.test(r.patch)) throw invalid('response.patch is not base64');
  if (r.patchType === undefined || r.patchType === null) throw invalid('webhook returned response.patch but not response.patchType');
  if (r.patchType !== 'JSONPatch') throw invalid(`webhook returned invalid response.patchType of "${String(r.patchType)}"`);
  return { allowed: r.allowed, status, patch: Buffer.from(r.patch, 'base64').toString('utf8') };
}

/** A small HTTPS admission webhook whose answers a test writes, to drive the fake API server's checks. */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { servingMaterial } from '../injector/support.js';
import type { MutatingWebhook } from './webhook-match.js';

export interface Received {
  path: string;
  contentType?: string;
  review: any;
}

export interface TestWebhook {
  /** https://localhost:<port>/<name>: the serving certificate names localhost. */
  url(name: string): string;
  /** base64 of the PEM root that signed the serving certificate. */
  caBundle: string;
  received: Received[];
  /** Per webhook path; an answer of undefined leaves the request hanging. */
  answers: Map<string, (review: any) => unknown>;
}

const material = servingMaterial();

export async function startTestWebhook(t: { after(fn: () => unknown): void }): Promise<TestWebhook> {
  const received: Received[] = [];
  const answers = new Map<string, (review: any) => unknown>();
  const server: Server = createServer({ cert: material.certPem, key: material.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push({ path: `${url.pathname}${url.search}`, contentType: req.headers['content-type'], review });
      const answer = answers.get(url.pathname)?.(review);
      if (answer === undefined) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: (name) => `https://localhost:${port}/${name}`, caBundle: Buffer.from(material.caPem).toString('base64'), received, answers };
}

/** An AdmissionReview answer to `review`, allowing it, with an optional JSON Patch. */
export function allowed(review: any, patch?: unknown[]): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: review.request.uid, allowed: true, ...(patch ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) },
  };
}

/** A webhook for every CREATE of a pod in namespaces labeled `admission-test=<label>`. */
export function podHook(name: string, label: string, clientConfig: MutatingWebhook['clientConfig'], extra: Partial<MutatingWebhook> = {}): MutatingWebhook {
  return {
    name,
    clientConfig,
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    namespaceSelector: { matchLabels: { 'admission-test': label } },
    failurePolicy: 'Fail',
    ...extra,
  };
}

/** A minimal valid pod. */
export function plainPod(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): any {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...extra }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
}

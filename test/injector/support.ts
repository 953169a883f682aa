import { randomBytes } from 'node:crypto';
import { request as httpsRequest, Agent } from 'node:https';
import jsonpatch from 'fast-json-patch';
import Fastify from 'fastify';
import { Pod as K8sPod } from 'kubernetes-models/v1/Pod';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/log.js';
import { generateKeyPair, privateKeyPem } from '../../src/pki/keys.js';
import { encodePem } from '../../src/pki/pem.js';
import { rootCaTemplate, serialFrom, servingTemplate } from '../../src/pki/templates.js';
import { selfSign, signCertificate, signerFor, subjectKeyOf } from '../../src/pki/certificate.js';
import { injectorConfig, type InjectorConfig } from '../../src/injector/config.js';
import { registerInjector } from '../../src/injector/webhook.js';

/** A throwaway root and a serving leaf for 127.0.0.1/localhost, made with the project's own PKI. */
export function servingMaterial(): { caPem: string; certPem: string; keyPem: string } {
  const now = Date.now();
  const root = generateKeyPair();
  const rootDer = selfSign(
    rootCaTemplate({ now, ttlMs: 3_600_000, serial: serialFrom(randomBytes(16)), trustDomain: 'test.local', label: 'test' }),
    root.privateKey, root.publicKey,
  );
  const leaf = generateKeyPair();
  const leafDer = signCertificate(
    servingTemplate({
      now, ttlMs: 3_000_000, serial: serialFrom(randomBytes(16)), dnsNames: ['localhost'], ips: ['127.0.0.1'],
      rsaKey: false, issuerNotAfter: now + 3_600_000,
    }),
    subjectKeyOf(leaf.publicKey),
    signerFor(rootDer, root.privateKey),
  );
  return { caPem: encodePem('CERTIFICATE', rootDer), certPem: encodePem('CERTIFICATE', leafDer), keyPem: privateKeyPem(leaf.privateKey) };
}

export interface Reply {
  status: number;
  json: any;
}

export interface Webhook {
  registry: Registry;
  post(body: string | Buffer | object, contentType?: string | null): Promise<Reply>;
  /** Sends a review for `pod` and returns the AdmissionResponse. */
  review(pod: unknown, opts?: Partial<ReviewOpts>): Promise<any>;
  close(): Promise<void>;
}

const material = servingMaterial();

export async function startWebhook(overrides: Partial<InjectorConfig> = {}): Promise<Webhook> {
  const app = Fastify({ https: { cert: material.certPem, key: material.keyPem }, logger: false });
  const registry = new Registry();
  registerInjector(app, { config: injectorConfig(overrides), registry, logger: silentLogger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const agent = new Agent({ keepAlive: true, ca: material.caPem, maxSockets: 4 });
  const post = (body: string | Buffer | object, contentType: string | null = 'application/json') =>
    new Promise<Reply>((resolve, reject) => {
      const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(data) };
      if (contentType !== null) headers['content-type'] = contentType;
      const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port, path: '/inject', method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  return {
    registry,
    post,
    async review(pod, opts) {
      const r = await post(reviewFor(pod, opts));
      if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${JSON.stringify(r.json)}`);
      return r.json.response;
    },
    async close() {
      agent.destroy();
      await app.close();
    },
  };
}

export interface ReviewOpts {
  uid: string;
  namespace: string;
  kind: string;
  group: string;
  operation: string;
  dryRun: boolean;
}

export function reviewFor(object: unknown, opts: Partial<ReviewOpts> = {}): object {
  const o = { uid: 'uid-1', namespace: 'apps', kind: 'Pod', group: '', operation: 'CREATE', dryRun: false, ...opts };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid,
      kind: { group: o.group, version: 'v1', kind: o.kind },
      resource: { group: o.group, version: 'v1', resource: `${o.kind.toLowerCase()}s` },
      namespace: o.namespace,
      operation: o.operation,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object,
      dryRun: o.dryRun,
    },
  };
}

/** Applies the response's base64 JSON Patch with an RFC 6902 library, as the API server would. */
export function applyResponse(pod: unknown, response: any): any {
  if (!response.patch) return structuredClone(pod);
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString());
  return jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
}

/** Throws with the schema's own message when the pod is not a valid Kubernetes Pod. */
export function validatePod(pod: any): void {
  new K8sPod({ apiVersion: 'v1', kind: 'Pod', ...pod }).validate();
}

export function containerNames(list: Array<{ name: string }> | undefined): string[] {
  return (list ?? []).map((c) => c.name);
}

/** A pod as a ReplicaSet controller would create it. */
export function typicalPod(): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-7d9f8c-',
      namespace: 'apps',
      labels: { app: 'web', 'pod-template-hash': '7d9f8c' },
      annotations: { 'example.com/owner': 'team-a' },
    },
    spec: {
      serviceAccountName: 'web',
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}

import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TestContext } from 'node:test';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { silentLogger } from '../../src/common/log.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/start.js';
import { FakeKube } from './fake-kube.js';
import { postJson } from './http.js';
import { opensslCsr, tempDir } from './openssl.js';

export const NS = 'meshid-system';
export const WEBHOOK = 'meshid-sidecar-injector';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** Kubernetes' default: RS256. One key per test process; RSA key generation is the slow part of a fake cluster. */
let issuerKey: ReturnType<typeof generateKeyPair> | undefined;

/** What a kubelet asks the TokenRequest API for: a token for a service account, bound to a pod. */
export interface TokenRequest {
  namespace: string;
  serviceAccount: string;
  pod?: { name: string; uid: string };
  /** A token bound to a node; a token bound to a pod names its pod's node (spec.nodeName) without this, as Kubernetes 1.30+ does. */
  node?: string;
  audience?: string;
  expirationSeconds?: number;
}

export interface FakeCluster {
  fake: FakeKube;
  /** A token shaped like a projected ServiceAccount token, signed by the cluster's service account issuer key. */
  token(o: TokenRequest): Promise<string>;
  /** A kubeconfig file for the CLI. */
  kubeconfigFile(): Promise<string>;
}

/**
 * A fake API server set up like a fresh install: namespaces, the webhook configuration without a
 * caBundle, a pod, and a service account issuer whose keys it publishes (OIDC discovery) and with
 * which it answers TokenReviews, as a real API server does.
 */
export async function startFakeCluster(t: TestContext | { after(fn: () => unknown): void }, o: { webhookConfiguration?: boolean; host?: string } = {}): Promise<FakeCluster> {
  const fake = await FakeKube.start({ host: o.host });
  t.after(() => fake.close());
  for (const name of [NS, 'default', 'shop']) fake.put('namespaces', { metadata: { name } });
  fake.put('pods', { metadata: { name: 'cart-0', namespace: 'shop', uid: 'uid-cart-0' } });
  if (o.webhookConfiguration !== false) putWebhookConfiguration(fake);
  const { privateKey, publicKey } = await (issuerKey ??= generateKeyPair('RS256', { extractable: true }));
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'sa-key-1', alg: 'RS256', use: 'sig' };
  fake.oidc = { issuer: ISSUER, jwks: { keys: [jwk] } };
  fake.tokenReview = (token, audiences) => review(publicKey, token, audiences);
  return {
    fake,
    token: (to) => sign(privateKey, to, to.node ?? nodeOf(fake, to)),
    async kubeconfigFile() {
      const file = join(await tempDir('kubeconfig-'), 'config');
      await writeFile(file, fake.kubeConfig().exportConfig());
      return file;
    },
  };
}

export function putWebhookConfiguration(fake: FakeKube): void {
  const hook = (name: string) => ({ name, admissionReviewVersions: ['v1'], clientConfig: { service: { name: 'meshid', namespace: NS, path: '/inject', port: 443 } } });
  fake.put('mutatingwebhookconfigurations', { metadata: { name: WEBHOOK }, webhooks: [hook('namespace.sidecar-injector.meshid.io'), hook('object.sidecar-injector.meshid.io')] });
}

function nodeOf(fake: FakeKube, o: TokenRequest): string | undefined {
  const pod = o.pod && fake.get('pods', o.namespace, o.pod.name);
  return (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
}

async function sign(key: CryptoKey, o: TokenRequest, node: string | undefined): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const k8s = { namespace: o.namespace, serviceaccount: { name: o.serviceAccount, uid: 'sa-uid' }, ...(o.pod ? { pod: o.pod } : {}), ...(node ? { node: { name: node, uid: `uid-${node}` } } : {}) };
  return new SignJWT({ 'kubernetes.io': k8s })
    .setProtectedHeader({ alg: 'RS256', kid: 'sa-key-1' })
    .setIssuer(ISSUER).setAudience(o.audience ?? 'meshid-ca').setSubject(`system:serviceaccount:${o.namespace}:${o.serviceAccount}`)
    .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + (o.expirationSeconds ?? 3600))
    .sign(key);
}

/** What the API server answers: authenticated only for a valid token whose audience is among those asked for. */
async function review(key: CryptoKey, token: string, audiences: string[]): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: audiences });
    const { pod, node } = payload['kubernetes.io'] as { pod?: { name: string; uid: string }; node?: { name: string; uid: string } };
    const extra = {
      ...(pod ? { 'authentication.kubernetes.io/pod-name': [pod.name], 'authentication.kubernetes.io/pod-uid': [pod.uid] } : {}),
      ...(node ? { 'authentication.kubernetes.io/node-name': [node.name], 'authentication.kubernetes.io/node-uid': [node.uid] } : {}),
    };
    const aud = ([] as string[]).concat(payload.aud ?? []).filter((a) => audiences.includes(a));
    return { authenticated: true, audiences: aud, user: { username: payload.sub, extra } };
  } catch {
    return { authenticated: false, error: 'invalid bearer token' };
  }
}

/** A control plane in cluster mode against the fake, on free ports, with intervals short enough for tests. */
export async function startReplica(t: TestContext | { after(fn: () => unknown): void }, fake: FakeKube, o: Partial<ControlPlaneOptions> & { identity: string }): Promise<ControlPlane> {
  const cp = await startControlPlane({
    local: false, kubeConfig: fake.kubeConfig(), namespace: NS, caPort: 0, istioCaPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger,
    rotationTickMs: 50,
    ...o,
    clusterTiming: {
      leaseDurationMs: 600_000, leaderRetryMs: 20, watchRetryMs: 50, bundleDebounceMs: 5, webhookRetryMs: 50, startupRetryMs: 50, ...o.clusterTiming,
    },
  });
  t.after(() => cp.close());
  return cp;
}

export interface Issued {
  status: number;
  code?: string;
  leaf?: X509Certificate;
  chain?: X509Certificate[];
  trustBundle?: string[];
}

/** A CSR made by openssl, sent over HTTPS to the replica, trusting only `bundle`. */
export async function requestCert(cp: ControlPlane, token: string, bundle: string | string[], spiffeId = 'spiffe://cluster.local/ns/shop/sa/cart'): Promise<Issued> {
  const { csr } = await opensslCsr({ san: `URI:${spiffeId}` });
  const res = await postJson(`${cp.caUrl}/v1/certificates`, { csr }, { token, ca: bundle });
  if (res.status !== 200) return { status: res.status, code: res.json().error?.code };
  const body = res.json();
  const [leaf, ...chain] = (body.certChain as string[]).map((p) => new X509Certificate(p));
  return { status: 200, leaf, chain, trustBundle: body.trustBundle };
}

/** Whether `leaf` chains through `chain` to one of the roots, signature by signature. */
export function chainsTo(leaf: X509Certificate, chain: X509Certificate[], roots: string[]): boolean {
  let current = leaf;
  for (const next of [...chain, ...roots.map((r) => new X509Certificate(r))]) {
    if (!current.checkIssued(next) || !current.verify(next.publicKey)) return false;
    if (next.checkIssued(next)) return true;
    current = next;
  }
  return false;
}

/**
 * A real TLS handshake as the API server makes it to the webhook Service: trusting only `caBundle`,
 * checking the certificate names meshid.<namespace>.svc. Resolves with the error, if any.
 */
export function webhookHandshake(url: string, caBundle: string): Promise<string | null> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), servername: `meshid.${NS}.svc`, ca: caBundle }, () => {
      resolve(socket.authorized ? null : String(socket.authorizationError));
      socket.end();
    });
    socket.on('error', (err) => resolve(err.message));
  });
}

/** The webhook configuration's caBundles, decoded; one per webhook. */
export function webhookCaBundles(fake: FakeKube): Array<string | undefined> {
  const config = fake.get('mutatingwebhookconfigurations', undefined, WEBHOOK) as { webhooks: Array<{ clientConfig: { caBundle?: string } }> } | undefined;
  return (config?.webhooks ?? []).map((w) => w.clientConfig.caBundle && Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8'));
}

/** The trust bundle in a namespace's ConfigMap, as a workload there would read it. */
export function publishedBundle(fake: FakeKube, namespace: string, name = 'meshid-ca-root-cert'): string | undefined {
  return (fake.get('configmaps', namespace, name)?.data as Record<string, string> | undefined)?.['root-cert.pem'];
}

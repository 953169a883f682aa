/** A fake cluster that admits pods through meshid's real webhook configuration and a running control plane. */
import { readFile } from 'node:fs/promises';
import { ApiException, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { WEBHOOK, type FakeCluster } from './fake-cluster.js';
import type { FakeKube } from './fake-kube.js';
import { waitFor } from './wait.js';
import type { MutatingWebhookConfiguration } from './webhook-match.js';

/** The install's webhook configuration, as `kubectl apply` would send it. */
export const WEBHOOK_MANIFEST = new URL('../../../manifests/webhook/mutatingwebhookconfiguration.yaml', import.meta.url);

export async function webhookManifest(): Promise<MutatingWebhookConfiguration> {
  return parse(await readFile(WEBHOOK_MANIFEST, 'utf8')) as MutatingWebhookConfiguration;
}

/**
 * Stores the real webhook configuration (replacing any), routes the Services it names to `cp`'s
 * webhook listener and waits until `cp` has written its trust bundle as every webhook's caBundle.
 * `cp` writes it within clusterTiming.webhookRetryMs when no configuration was stored yet; one that
 * replaces a configuration already carrying a caBundle waits for clusterTiming.webhookResyncMs.
 */
export async function installWebhookConfiguration(cluster: FakeCluster, cp: ControlPlane, o: { timeoutMs?: number } = {}): Promise<void> {
  const { fake } = cluster;
  const config = await webhookManifest();
  const services = new Set((config.webhooks ?? []).flatMap(({ clientConfig: { service: s } }) => (s ? [`${s.namespace}/${s.name}:${s.port ?? 443}`] : [])));
  const webhookPort = Number(new URL(cp.webhookUrl).port);
  const previous = fake.resolveService;
  fake.resolveService = (namespace, name, port) => (services.has(`${namespace}/${name}:${port}`) ? { host: '127.0.0.1', port: webhookPort } : previous(namespace, name, port));
  fake.put('mutatingwebhookconfigurations', config);
  const timeoutMs = o.timeoutMs ?? 5000;
  await waitFor(() => caBundlesWritten(fake, cp), {
    timeoutMs,
    what: `the control plane to write its caBundle into MutatingWebhookConfiguration ${WEBHOOK} (a replaced configuration is repaired only every clusterTiming.webhookResyncMs: start the fake cluster with { webhookConfiguration: false } or shorten webhookResyncMs)`,
  });
}

function caBundlesWritten(fake: FakeKube, cp: ControlPlane): boolean {
  const expected = Buffer.from(cp.authority.current().roots.join(''), 'utf8').toString('base64');
  const hooks = (fake.get('mutatingwebhookconfigurations', undefined, WEBHOOK) as MutatingWebhookConfiguration | undefined)?.webhooks ?? [];
  return hooks.length > 0 && hooks.every((h) => h.clientConfig.caBundle === expected);
}

/** What a user sees when the API server refuses a create. */
export interface PodRefusal {
  code: number;
  message: string;
}

export function isRefusal(r: V1Pod | PodRefusal): r is PodRefusal {
  return typeof (r as PodRefusal).code === 'number' && !('metadata' in r);
}

/** Creates a pod through @kubernetes/client-node, as kubectl or a controller would: the stored pod, or the refusal. */
export async function createPod(fake: FakeKube, namespace: string, pod: V1Pod): Promise<V1Pod | PodRefusal> {
  try {
    return await fake.kubeConfig().makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: pod });
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    return { code: err.code, message: statusMessage(err.body) };
  }
}

function statusMessage(body: unknown): string {
  if (typeof body !== 'string') return String((body as { message?: unknown } | undefined)?.message ?? '');
  try {
    return String((JSON.parse(body) as { message?: unknown }).message ?? '');
  } catch {
    return body;
  }
}

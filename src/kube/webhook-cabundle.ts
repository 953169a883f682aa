import type { AdmissionregistrationV1Api, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { MeshidError } from '../common/errors.js';
import { apiStatus, describeApiError } from './api-errors.js';

export const WEBHOOK_CONFIGURATION = 'meshid-sidecar-injector';

export type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown };

/**
 * The JSON patch that sets every webhook's caBundle, guarded by a test of the resourceVersion so a
 * concurrent edit (say, a re-apply of the manifests) is never overwritten blindly. Empty when nothing differs.
 */
export function caBundlePatch(config: V1MutatingWebhookConfiguration, caBundlePem: string): JsonPatchOp[] {
  const encoded = Buffer.from(caBundlePem, 'utf8').toString('base64');
  const ops: JsonPatchOp[] = [];
  (config.webhooks ?? []).forEach((hook, i) => {
    if (hook.clientConfig?.caBundle === encoded) return;
    ops.push({ op: hook.clientConfig?.caBundle === undefined ? 'add' : 'replace', path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded });
  });
  if (!ops.length) return [];
  return [{ op: 'test', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion }, ...ops];
}

/** Makes the API server trust the webhook's serving certificate; returns whether anything was patched. */
export async function ensureWebhookCaBundle(admission: AdmissionregistrationV1Api, caBundlePem: string, name = WEBHOOK_CONFIGURATION, attempts = 3): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    let config: V1MutatingWebhookConfiguration;
    try {
      config = await admission.readMutatingWebhookConfiguration({ name });
    } catch (err) {
      const hint = apiStatus(err) === 404 ? ' (is the meshid install applied?)' : '';
      throw new MeshidError('webhook_configuration_unavailable', `cannot read MutatingWebhookConfiguration ${name}: ${describeApiError(err)}${hint}`, 503);
    }
    const patch = caBundlePatch(config, caBundlePem);
    if (!patch.length) return false;
    try {
      await admission.patchMutatingWebhookConfiguration({ name, body: patch });
      return true;
    } catch (err) {
      // 409/422: the test op failed because the object changed since it was read; read again.
      const status = apiStatus(err);
      if ((status === 409 || status === 422) && attempt < attempts) continue;
      throw new MeshidError('webhook_configuration_unavailable', `cannot patch the caBundle of MutatingWebhookConfiguration ${name}: ${describeApiError(err)}`, 503);
    }
  }
}

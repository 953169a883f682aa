import { AppsV1Api } from '@kubernetes/client-node';
import { validateNamespace } from '../pki/spiffe.js';
import { describeApiError } from './api-errors.js';
import { controlPlaneNamespace, loadKubeConfig } from './client.js';

/** The install's Deployment and container (manifests/deployment.yaml). */
export const CONTROL_PLANE_DEPLOYMENT = 'meshid';

/** What runs in the cluster, as its Deployment says: the image's tag is the version (a digest-only image has none). */
export async function controlPlaneVersion(o: { kubeconfig?: string; namespace?: string }) {
  const namespace = validateNamespace(o.namespace ?? controlPlaneNamespace());
  const apps = loadKubeConfig({ kubeconfig: o.kubeconfig }).makeApiClient(AppsV1Api);
  let d;
  try {
    d = await apps.readNamespacedDeployment({ name: CONTROL_PLANE_DEPLOYMENT, namespace });
  } catch (err) {
    throw new Error(`cannot read Deployment ${CONTROL_PLANE_DEPLOYMENT} in ${namespace}: ${describeApiError(err)}`);
  }
  const containers = d.spec?.template?.spec?.containers ?? [];
  const image = (containers.find((c) => c.name === CONTROL_PLANE_DEPLOYMENT) ?? containers[0])?.image ?? '';
  return {
    deployment: CONTROL_PLANE_DEPLOYMENT, namespace, image, version: imageTag(image),
    readyReplicas: d.status?.readyReplicas ?? 0, replicas: d.spec?.replicas ?? 1,
  };
}

/** `reg/meshid:0.1.0@sha256:…` → 0.1.0; no tag → "unknown". */
export function imageTag(image: string): string {
  const name = image.split('@')[0]!;
  const tag = /:([\w][\w.-]{0,127})$/.exec(name.slice(name.lastIndexOf('/') + 1));
  return tag ? tag[1]! : 'unknown';
}

import { ApisApi, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isNotFound } from './api-errors.js';

export const CERTIFICATES_GROUP = 'certificates.k8s.io';
export const PCR_PLURAL = 'podcertificaterequests';
export const CTB_PLURAL = 'clustertrustbundles';

/** Newest first: a server that serves v1 is answered in v1. v1alpha1 PodCertificateRequests predate the stub PKCS#10 request. */
const PCR_VERSIONS = ['v1', 'v1beta1'];
const CTB_VERSIONS = ['v1', 'v1beta1', 'v1alpha1'];

/** Which version of each resource the API server serves, or null where it serves none (an older cluster, a gate off). */
export interface CertificatesApis {
  podCertificateRequests: string | null;
  clusterTrustBundles: string | null;
}

/** The generic client: one code path for every version, chosen at run time by discovery. */
export function customObjects(config: KubeConfig): CustomObjectsApi {
  return config.makeApiClient(CustomObjectsApi);
}

/**
 * Asks the API server, as kubectl does: the group's served versions, then each candidate version's resources.
 * A version is only trusted to have a resource if its resource list says so (alpha APIs are served per resource).
 */
export async function discoverCertificatesApis(config: KubeConfig): Promise<CertificatesApis> {
  const groups = await config.makeApiClient(ApisApi).getAPIVersions();
  const served = new Set(groups.groups.find((g) => g.name === CERTIFICATES_GROUP)?.versions.map((v) => v.version) ?? []);
  const custom = customObjects(config);
  const resources = new Map<string, Set<string>>();
  for (const version of new Set([...PCR_VERSIONS, ...CTB_VERSIONS])) {
    if (!served.has(version)) continue;
    try {
      const list = await custom.getAPIResources({ group: CERTIFICATES_GROUP, version });
      resources.set(version, new Set(list.resources.map((r) => r.name)));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const pick = (versions: string[], plural: string) => versions.find((v) => resources.get(v)?.has(plural)) ?? null;
  return { podCertificateRequests: pick(PCR_VERSIONS, PCR_PLURAL), clusterTrustBundles: pick(CTB_VERSIONS, CTB_PLURAL) };
}

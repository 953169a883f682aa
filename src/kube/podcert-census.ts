import type { KubeConfig } from '@kubernetes/client-node';
import type { PodCertificateRequest } from '../ca/podcert/request.js';
import { CERTIFICATES_GROUP, customObjects, discoverCertificatesApis, PCR_PLURAL } from './certificates-api.js';

/** Every PodCertificateRequest for `signerName`, in the version the server serves; null where it serves none. */
export async function podCertificateRequests(config: KubeConfig, signerName: string): Promise<PodCertificateRequest[] | null> {
  const { podCertificateRequests: version } = await discoverCertificatesApis(config);
  if (!version) return null;
  const list = await customObjects(config).listClusterCustomObject({ group: CERTIFICATES_GROUP, version, plural: PCR_PLURAL, fieldSelector: `spec.signerName=${signerName}` }) as { items?: PodCertificateRequest[] };
  return list.items ?? [];
}

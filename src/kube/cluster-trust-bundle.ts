import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { apiStatus } from './api-errors.js';
import { CERTIFICATES_GROUP, CTB_PLURAL, customObjects } from './certificates-api.js';
import { MANAGED_BY_LABELS } from './labels.js';

export interface ClusterTrustBundlePublisherOptions {
  config: KubeConfig;
  /** The served version discovery found. */
  version: string;
  name: string;
  signerName: string;
}

interface ClusterTrustBundle {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { signerName?: string; trustBundle?: string };
}

/** What a ClusterTrustBundle should be: exactly the bundle, for the signer, labelled as meshid's. */
export function isCurrentBundle(ctb: ClusterTrustBundle, signerName: string, bundle: string): boolean {
  return ctb.spec?.signerName === signerName && ctb.spec?.trustBundle === bundle
    && Object.entries(MANAGED_BY_LABELS).every(([k, v]) => ctb.metadata.labels?.[k] === v);
}

/**
 * Keeps one ClusterTrustBundle equal to the trust bundle, the Kubernetes-native way to publish a signer's roots
 * (pods read it through a clusterTrustBundle projected volume source, by name or by signer). A write that loses
 * to a concurrent change reports `moved`, and the caller looks again. The signer name is immutable, so a bundle
 * of that name made for another signer is left alone and reported.
 */
export class ClusterTrustBundlePublisher {
  private readonly custom: CustomObjectsApi;

  constructor(private readonly o: ClusterTrustBundlePublisherOptions) {
    this.custom = customObjects(o.config);
  }

  describe(): string {
    return `ClusterTrustBundle ${this.o.name}`;
  }

  async sync(bundle: string): Promise<'current' | 'written' | 'moved'> {
    const { version, name, signerName } = this.o;
    const ids = { group: CERTIFICATES_GROUP, version, plural: CTB_PLURAL };
    const body = (resourceVersion?: string) => ({
      apiVersion: `${CERTIFICATES_GROUP}/${version}`,
      kind: 'ClusterTrustBundle',
      metadata: { name, labels: { ...MANAGED_BY_LABELS }, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: { signerName, trustBundle: bundle },
    });
    let existing: ClusterTrustBundle | undefined;
    try {
      existing = await this.custom.getClusterCustomObject({ ...ids, name }) as ClusterTrustBundle;
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    try {
      if (!existing) {
        await this.custom.createClusterCustomObject({ ...ids, body: body() });
        return 'written';
      }
      if (existing.spec?.signerName !== signerName) {
        throw new Error(`${this.describe()} exists for signer ${String(existing.spec?.signerName).slice(0, 100)}, not ${signerName}; delete it so meshid can publish its roots there`);
      }
      if (isCurrentBundle(existing, signerName, bundle)) return 'current';
      await this.custom.replaceClusterCustomObject({ ...ids, name, body: body(existing.metadata.resourceVersion) });
      return 'written';
    } catch (err) {
      const code = apiStatus(err);
      if (code === 409 || code === 404) return 'moved';
      throw err;
    }
  }
}

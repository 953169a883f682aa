import type { KubeConfig } from '@kubernetes/client-node';
import { createRequest, credentialBundle, kubeletKey, requestBody, waitForAnswer, type KubeletKeyType } from '../helpers/kubelet-podcert.js';

/** A podCertificate projected source, as the pod spec gives it. */
export interface PodCertificateSource {
  signerName: string;
  keyType: KubeletKeyType;
  maxExpirationSeconds?: number;
  credentialBundlePath?: string;
  keyPath?: string;
  certificateChainPath?: string;
}

export interface IssuedCredential {
  /** Files to write into the volume, by path. */
  files: Record<string, string>;
  /** When the kubelet asks again: the signer's beginRefreshAt. */
  refreshAt: number;
}

export type PodCertificateIssuer = (o: { namespace: string; pod: { name: string; uid: string }; serviceAccount: string; source: PodCertificateSource }) => Promise<IssuedCredential>;

let requests = 0;

/**
 * The kubelet's podCertificate step against the (fake) API server: a fresh key of the source's type, a
 * PodCertificateRequest with the stub PKCS#10 request, the signer's answer awaited, and the files made from it.
 * A Denied or Failed answer fails the volume, as it leaves a real pod in ContainerCreating with an event.
 */
export function podCertificateIssuer(config: KubeConfig): PodCertificateIssuer {
  return async ({ namespace, pod, serviceAccount, source }) => {
    const key = kubeletKey(source.keyType);
    const name = `${pod.name}-${++requests}`.slice(0, 253);
    await createRequest(config, requestBody({ namespace, name, pod, serviceAccount, signerName: source.signerName, maxExpirationSeconds: source.maxExpirationSeconds, key }));
    const pcr = await waitForAnswer(config, namespace, name, 30_000);
    const answer = pcr.status!.conditions!.find((c) => c.status === 'True')!;
    if (answer.type !== 'Issued') throw new Error(`podCertificate for ${source.signerName}: ${answer.type} ${answer.reason}: ${answer.message}`);
    const chain = pcr.status!.certificateChain!;
    const files: Record<string, string> = {};
    if (source.credentialBundlePath) files[source.credentialBundlePath] = credentialBundle(key, chain);
    if (source.keyPath) files[source.keyPath] = key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    if (source.certificateChainPath) files[source.certificateChainPath] = chain;
    return { files, refreshAt: pcr.status!.beginRefreshAt!.getTime() };
  };
}

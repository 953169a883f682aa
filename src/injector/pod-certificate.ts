import { MeshidError } from '../common/errors.js';
import { CA_ROOT_FILE, POD_CERTIFICATE, TRUST_BUNDLE_CONFIGMAP } from '../common/pod-contract.js';
import type { Container, Volume } from './types.js';

/**
 * `sidecar.meshid.io/mode: pod-certificate`: identity without a sidecar, for apps that do their own TLS. The
 * kubelet makes the key, asks meshid's signer through a PodCertificateRequest and writes the credential bundle
 * (PKCS#8 key, then the SVID chain) into this projected volume, beside the trust bundle, and rotates it there at
 * the signer's beginRefreshAt. Nothing of meshid runs in the pod: no init container, no proxy, no token.
 */
export const POD_CERTIFICATE_VOLUME: Readonly<Volume> = Object.freeze({
  name: POD_CERTIFICATE.volume,
  projected: {
    sources: [
      { podCertificate: { signerName: POD_CERTIFICATE.signer, keyType: POD_CERTIFICATE.keyType, credentialBundlePath: POD_CERTIFICATE.credentialBundleFile } },
      { configMap: { name: TRUST_BUNDLE_CONFIGMAP, items: [{ key: CA_ROOT_FILE, path: POD_CERTIFICATE.trustBundleFile }] } },
    ],
  },
});

const MOUNT = Object.freeze({ name: POD_CERTIFICATE.volume, mountPath: POD_CERTIFICATE.mountPath, readOnly: true });

/** Every app container with the volume mounted read-only; refuses a container that already uses the mount path. */
export function mountPodCertificate(containers: Container[]): { containers: Container[]; mountsCreated: string[] } {
  const mountsCreated: string[] = [];
  const out = containers.map((c) => {
    const mounts = (c.volumeMounts ?? []) as Array<{ mountPath?: string }>;
    if (!Array.isArray(mounts)) throw new MeshidError('invalid_pod', `container ${c.name}: volumeMounts is not a list`);
    if (mounts.some((m) => m?.mountPath === POD_CERTIFICATE.mountPath)) {
      throw new MeshidError('name_clash', `container ${c.name} already mounts something at ${POD_CERTIFICATE.mountPath}, where pod-certificate mode puts the SVID`);
    }
    if (c.volumeMounts === undefined) mountsCreated.push(c.name);
    return { ...c, volumeMounts: [...mounts, MOUNT] };
  });
  return { containers: out, mountsCreated };
}

/** Takes the mounts back out; a volumeMounts list that injection created goes with them. */
export function unmountPodCertificate(containers: Container[], volumes: string[], mountsCreated: string[]): Container[] {
  return containers.map((c) => {
    if (!Array.isArray(c.volumeMounts)) return c;
    const kept = (c.volumeMounts as Array<{ name?: string }>).filter((m) => !volumes.includes(m?.name ?? ''));
    if (kept.length === 0 && mountsCreated.includes(c.name)) {
      const { volumeMounts: _dropped, ...rest } = c;
      return rest as Container;
    }
    return { ...c, volumeMounts: kept };
  });
}

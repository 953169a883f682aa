/**
 * The podCertificate projected volume source of Kubernetes 1.35 (core/v1 PodCertificateProjection), checked as
 * kube-apiserver validates it. kubernetes-models 4.5 (the schema fake-admission.ts uses) predates it and lets
 * any field through, so this is the schema for that part: written from the 1.35 types, in our words.
 * - signerName: required, `<domain>/<path>`;
 * - keyType: required, one of RSA3072, RSA4096, ECDSAP256, ECDSAP384, ECDSAP521, ED25519;
 * - maxExpirationSeconds: optional, 3600 to 7862400 (86400 at most for kubernetes.io signers);
 * - credentialBundlePath, or keyPath with certificateChainPath: where the kubelet writes; relative paths
 *   without "..", distinct, and not used by another source of the same volume;
 * - userAnnotations: optional string map. No other fields.
 */
const KEY_TYPES = ['RSA3072', 'RSA4096', 'ECDSAP256', 'ECDSAP384', 'ECDSAP521', 'ED25519'];
const FIELDS = new Set(['signerName', 'keyType', 'maxExpirationSeconds', 'credentialBundlePath', 'keyPath', 'certificateChainPath', 'userAnnotations']);
const SIGNER = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9._/-]+$/;

type Obj = Record<string, unknown>;

export function checkPodCertificateSources(pod: { spec?: Obj }): string | undefined {
  for (const [v, volume] of ((pod.spec?.volumes ?? []) as Obj[]).entries()) {
    const sources = ((volume.projected as Obj | undefined)?.sources ?? []) as Obj[];
    const paths: string[] = [];
    for (const [s, source] of sources.entries()) {
      const at = `spec.volumes[${v}].projected.sources[${s}]`;
      for (const item of ((source.configMap ?? source.secret ?? source.downwardAPI) as { items?: Array<{ path?: string }> } | undefined)?.items ?? []) if (item.path) paths.push(item.path);
      const pc = source.podCertificate as Obj | undefined;
      if (pc === undefined) continue;
      const bad = checkProjection(pc, `${at}.podCertificate`, paths);
      if (bad) return bad;
    }
    if (new Set(paths).size !== paths.length) return `spec.volumes[${v}].projected: Invalid value: conflicting duplicate paths`;
  }
  return undefined;
}

function checkProjection(pc: Obj, at: string, paths: string[]): string | undefined {
  const unknown = Object.keys(pc).find((k) => !FIELDS.has(k));
  if (unknown) return `${at}.${unknown}: unknown field`;
  if (typeof pc.signerName !== 'string' || !SIGNER.test(pc.signerName)) return `${at}.signerName: Invalid value: must be "<domain>/<path>"`;
  if (!KEY_TYPES.includes(pc.keyType as string)) return `${at}.keyType: Unsupported value: ${JSON.stringify(pc.keyType)}: supported values: ${KEY_TYPES.join(', ')}`;
  if (pc.maxExpirationSeconds !== undefined) {
    const ceiling = (pc.signerName as string).startsWith('kubernetes.io/') ? 86_400 : 7_862_400;
    if (!Number.isInteger(pc.maxExpirationSeconds) || (pc.maxExpirationSeconds as number) < 3600 || (pc.maxExpirationSeconds as number) > ceiling) {
      return `${at}.maxExpirationSeconds: Invalid value: must be in the range [3600, ${ceiling}]`;
    }
  }
  const bundle = pc.credentialBundlePath;
  const pair = [pc.keyPath, pc.certificateChainPath];
  if (bundle === undefined && pair.some((p) => p === undefined)) return `${at}: Required value: credentialBundlePath, or keyPath and certificateChainPath`;
  if (pair.filter((p) => p !== undefined).length === 1) return `${at}: Invalid value: keyPath and certificateChainPath go together`;
  for (const p of [bundle, ...pair]) {
    if (p === undefined) continue;
    if (typeof p !== 'string' || p === '' || p.startsWith('/') || p.split('/').includes('..')) return `${at}: Invalid value: ${JSON.stringify(p)} must be a relative path without ".."`;
    paths.push(p);
  }
  const annotations = pc.userAnnotations;
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null || Object.values(annotations).some((x) => typeof x !== 'string'))) {
    return `${at}.userAnnotations: Invalid value: must map strings to strings`;
  }
  return undefined;
}

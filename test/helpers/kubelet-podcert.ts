/**
 * What a kubelet does for a podCertificate projected volume source (KEP-4317, Kubernetes 1.35): make a key of
 * the source's keyType, a stub PKCS#10 request signed by it (or, in the deprecated form, the public key and a
 * proof of possession over the pod UID), create a PodCertificateRequest in the pod's namespace through the API,
 * and wait for the signer's answer. The credential bundle is the PKCS#8 key followed by the issued chain.
 */
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { CertificatesV1beta1Api, type KubeConfig, type V1beta1PodCertificateRequest } from '@kubernetes/client-node';
import { bitString, contextTag, integer, nullValue, oid, seq, sequenceOf, toDer } from '../../src/pki/der.js';
import { encodeName } from '../../src/pki/certificate.js';

export type KubeletKeyType = 'ECDSAP256' | 'ECDSAP384' | 'ECDSAP521' | 'RSA3072' | 'RSA4096' | 'ED25519';

export interface KubeletKey {
  type: KubeletKeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function kubeletKey(type: KubeletKeyType = 'ECDSAP256'): KubeletKey {
  const pair = type.startsWith('ECDSA')
    ? generateKeyPairSync('ec', { namedCurve: { ECDSAP256: 'P-256', ECDSAP384: 'P-384', ECDSAP521: 'P-521' }[type as 'ECDSAP256'] })
    : type === 'ED25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: Number(type.slice(3)) });
  return { type, ...pair };
}

/** signature algorithm OID and hash per key type, as Go's x509.CreateCertificateRequest picks them. */
const ALGORITHMS: Record<KubeletKeyType, { oid: string; hash: string | null; rsa: boolean }> = {
  ECDSAP256: { oid: '1.2.840.10045.4.3.2', hash: 'sha256', rsa: false },
  ECDSAP384: { oid: '1.2.840.10045.4.3.3', hash: 'sha384', rsa: false },
  ECDSAP521: { oid: '1.2.840.10045.4.3.4', hash: 'sha512', rsa: false },
  RSA3072: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', rsa: true },
  RSA4096: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', rsa: true },
  ED25519: { oid: '1.3.101.112', hash: null, rsa: false },
};

/** An empty PKCS#10 request (no subject, no attributes), DER, signed by `signer` (normally the key's own). */
export function stubPkcs10(key: KubeletKey, signer: KeyObject = key.privateKey): Buffer {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const info = sequenceOf([toDer(integer(Buffer.from([0]))), encodeName([]), spki, toDer(contextTag(0, true, []))]);
  const alg = ALGORITHMS[key.type];
  const signature = sign(alg.hash, info, { key: signer, dsaEncoding: 'der' });
  const algorithm = toDer(seq(alg.rsa ? [oid(alg.oid), nullValue()] : [oid(alg.oid)]));
  return sequenceOf([info, algorithm, toDer(bitString(signature))]);
}

/** The deprecated v1beta1 form: a signature over the ASCII pod UID (RSA-PSS, ECDSA ASN.1, Ed25519). */
export function proofOfPossession(key: KubeletKey, podUID: string): Buffer {
  const data = Buffer.from(podUID, 'ascii');
  if (key.type === 'ED25519') return sign(null, data, key.privateKey);
  if (key.type.startsWith('RSA')) return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  return sign('sha256', data, key.privateKey);
}

export interface RequestOptions {
  namespace: string;
  name: string;
  pod?: { name: string; uid: string };
  serviceAccount?: string;
  signerName?: string;
  maxExpirationSeconds?: number;
  key?: KubeletKey;
  form?: 'stub' | 'pkix';
}

export function requestBody(o: RequestOptions): V1beta1PodCertificateRequest & { spec: Record<string, unknown> } {
  const key = o.key ?? kubeletKey();
  const pod = o.pod ?? { name: `${o.name}-pod`, uid: `uid-${o.name}` };
  const keyFields = o.form === 'pkix'
    ? { pkixPublicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), proofOfPossession: proofOfPossession(key, pod.uid).toString('base64') }
    : { stubPKCS10Request: stubPkcs10(key).toString('base64') };
  return {
    apiVersion: 'certificates.k8s.io/v1beta1',
    kind: 'PodCertificateRequest',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      signerName: o.signerName ?? 'meshid.io/svid',
      podName: pod.name, podUID: pod.uid,
      serviceAccountName: o.serviceAccount ?? 'default', serviceAccountUID: `sa-uid-${o.serviceAccount ?? 'default'}`,
      nodeName: 'node-1', nodeUID: 'node-uid-1',
      ...(o.maxExpirationSeconds !== undefined ? { maxExpirationSeconds: o.maxExpirationSeconds } : {}),
      ...keyFields,
    } as V1beta1PodCertificateRequest['spec'] & Record<string, unknown>,
  };
}

/** Through the API with the client library's typed v1beta1 client, as the kubelet's client-go does. */
export async function createRequest(config: KubeConfig, body: V1beta1PodCertificateRequest): Promise<V1beta1PodCertificateRequest> {
  return config.makeApiClient(CertificatesV1beta1Api).createNamespacedPodCertificateRequest({ namespace: body.metadata!.namespace!, body });
}

const TERMINAL = ['Issued', 'Denied', 'Failed'];

/** Polls the request until it carries an answer, as the kubelet waits on its informer. */
export async function waitForAnswer(config: KubeConfig, namespace: string, name: string, timeoutMs = 10_000): Promise<V1beta1PodCertificateRequest> {
  const api = config.makeApiClient(CertificatesV1beta1Api);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const pcr = await api.readNamespacedPodCertificateRequest({ namespace, name });
    if (pcr.status?.conditions?.some((c) => TERMINAL.includes(c.type) && c.status === 'True')) return pcr;
    if (Date.now() > end) throw new Error(`PodCertificateRequest ${namespace}/${name} got no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The credential bundle file the kubelet writes: the key (PKCS#8 PEM), then the chain exactly as issued. */
export function credentialBundle(key: KubeletKey, certificateChain: string): string {
  return `${key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string}${certificateChain}`;
}

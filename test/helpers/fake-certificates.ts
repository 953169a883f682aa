/**
 * What kube-apiserver (1.35, certificates.k8s.io) checks of PodCertificateRequests and ClusterTrustBundles,
 * for FakeKube: the create-time checks the signer relies on (proof of possession, key types, lifetime bounds)
 * and the status checks a signer's answer must pass. Each returns the reason to refuse, or undefined.
 */
import { createPublicKey, constants, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import type { KubeObject, Target } from './fake-kube-routes.js';

type Authorize = (call: { verb: string; group: string; resource: string; name?: string }) => boolean;

const MIN_S = 3600;
const MAX_S = 7_862_400;
const REFRESH_MARGIN_MS = 600_000;
const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const SIGNER = /^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/;
const TERMINAL = ['Issued', 'Denied', 'Failed'];

/** Signature algorithms of a stub PKCS#10 request, by OID: the hash, or null for Ed25519 (no separate hash). */
const CSR_ALGORITHMS: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512', '1.3.101.112': null,
};

type Spec = Record<string, unknown>;

/** Defaults maxExpirationSeconds and clears status, as the API server does on create; refuses what it refuses. */
export function admitPodCertificateRequest(obj: KubeObject): string | undefined {
  const spec = (obj.spec ?? {}) as Spec;
  for (const f of ['signerName', 'podName', 'podUID', 'serviceAccountName', 'serviceAccountUID', 'nodeName', 'nodeUID']) {
    if (typeof spec[f] !== 'string' || spec[f] === '') return `spec.${f}: Required value`;
  }
  if (!SIGNER.test(spec.signerName as string)) return 'spec.signerName: Invalid value: must be a fully qualified domain and path of the form "example.com/signer-name"';
  spec.maxExpirationSeconds ??= 86_400;
  const max = spec.maxExpirationSeconds;
  const ceiling = (spec.signerName as string).startsWith('kubernetes.io/') ? 86_400 : MAX_S;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < MIN_S || max > ceiling) return `spec.maxExpirationSeconds: Invalid value: must be in the range [${MIN_S}, ${ceiling}]`;
  const annotations = spec.unverifiedUserAnnotations;
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null || Object.values(annotations).some((v) => typeof v !== 'string'))) {
    return 'spec.unverifiedUserAnnotations: Invalid value: must map strings to strings';
  }
  const key = spec.stubPKCS10Request !== undefined ? stubRequestKey(spec.stubPKCS10Request) : provenKey(spec);
  if (typeof key === 'string') return key;
  delete obj.status;
  return undefined;
}

function stubRequestKey(b64: unknown): KeyObject | string {
  try {
    const der = Buffer.from(String(b64), 'base64');
    const csr = asn1.fromDer(der.toString('binary'), { strict: true, parseAllBytes: true, decodeBitStrings: false } as never);
    const [info, alg, sig] = csr.value as forge.asn1.Asn1[];
    const fields = info!.value as forge.asn1.Asn1[];
    const key = checkedKey(Buffer.from(asn1.toDer(fields[2]!).getBytes(), 'binary'));
    if (typeof key === 'string') return `spec.stubPKCS10Request: ${key}`;
    const oid = asn1.derToOid((alg!.value as forge.asn1.Asn1[])[0]!.value as string);
    if (!(oid in CSR_ALGORITHMS)) return 'spec.stubPKCS10Request: Invalid value: unsupported signature algorithm';
    const signature = Buffer.from((sig!.value as string).slice(1), 'binary');
    const signed = Buffer.from(asn1.toDer(info!).getBytes(), 'binary');
    if (!verify(CSR_ALGORITHMS[oid]!, signed, key, signature)) return 'spec.stubPKCS10Request: Invalid value: the request\'s signature does not verify with its public key';
    return key;
  } catch {
    return 'spec.stubPKCS10Request: Invalid value: not a DER PKCS#10 certificate request';
  }
}

function provenKey(spec: Spec): KeyObject | string {
  if (typeof spec.pkixPublicKey !== 'string' || typeof spec.proofOfPossession !== 'string') return 'spec.stubPKCS10Request: Required value';
  const key = checkedKey(Buffer.from(spec.pkixPublicKey, 'base64'));
  if (typeof key === 'string') return `spec.pkixPublicKey: ${key}`;
  const proof = Buffer.from(spec.proofOfPossession, 'base64');
  const uid = Buffer.from(spec.podUID as string, 'ascii');
  const ok = key.asymmetricKeyType === 'ed25519' ? verify(null, uid, key, proof)
    : key.asymmetricKeyType === 'rsa' ? verify('sha256', uid, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, proof)
      : verify('sha256', uid, key, proof);
  return ok ? key : 'spec.proofOfPossession: Invalid value: does not verify with pkixPublicKey over the pod UID';
}

/** The key types the API server takes: RSA 3072/4096, ECDSA P-256/P-384/P-521, Ed25519. */
function checkedKey(spki: Buffer): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return 'Invalid value: not a PKIX public key';
  }
  const d = key.asymmetricKeyDetails ?? {};
  const ok = key.asymmetricKeyType === 'ed25519'
    || (key.asymmetricKeyType === 'rsa' && (d.modulusLength === 3072 || d.modulusLength === 4096))
    || (key.asymmetricKeyType === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(d.namedCurve ?? ''));
  return ok ? key : 'Invalid value: key must be one of RSA3072, RSA4096, ECDSAP256, ECDSAP384, ECDSAP521, ED25519';
}

/** The checks of a write to /status: one answer, final once given, and an issued chain that fits the request. */
export function checkPodCertificateStatus(existing: KubeObject, status: Record<string, unknown> | undefined): string | undefined {
  const before = (existing.status ?? {}) as Record<string, unknown>;
  const answered = ((before.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => TERMINAL.includes(c.type) && c.status === 'True');
  if (answered) return isDeepStrictEqual(before, status ?? {}) ? undefined : 'status: Forbidden: updates are not allowed once the request is Issued, Denied or Failed';
  const s = status ?? {};
  const conditions = (s.conditions ?? []) as Array<Record<string, unknown>>;
  if (!Array.isArray(conditions)) return 'status.conditions: Invalid value: must be a list';
  for (const [i, c] of conditions.entries()) {
    if (typeof c.type !== 'string' || !['True', 'False', 'Unknown'].includes(c.status as string)) return `status.conditions[${i}]: Invalid value: type and status are required`;
    if (typeof c.reason !== 'string' || !REASON.test(c.reason)) return `status.conditions[${i}].reason: Invalid value: must be CamelCase`;
    if (typeof c.message !== 'string' || c.message.length > 32_768) return `status.conditions[${i}].message: Invalid value`;
    if (typeof c.lastTransitionTime !== 'string' || !RFC3339.test(c.lastTransitionTime)) return `status.conditions[${i}].lastTransitionTime: Required value`;
  }
  const terminal = conditions.filter((c) => TERMINAL.includes(c.type as string) && c.status === 'True');
  if (terminal.length > 1) return 'status.conditions: Invalid value: at most one of Issued, Denied and Failed';
  const issued = terminal[0]?.type === 'Issued';
  const fields = ['certificateChain', 'notBefore', 'beginRefreshAt', 'notAfter'];
  if (!issued) return fields.some((f) => s[f] !== undefined) ? `status: Invalid value: ${fields.join(', ')} are set only with an Issued condition` : undefined;
  if (fields.some((f) => typeof s[f] !== 'string')) return `status: Required value: an Issued condition needs ${fields.join(', ')}`;
  return checkChain(s as Record<string, string>, (existing.spec as Spec).maxExpirationSeconds as number);
}

function checkChain(s: Record<string, string>, maxExpirationSeconds: number): string | undefined {
  const pems = s.certificateChain!.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  let certs: X509Certificate[];
  try {
    certs = pems.map((p) => new X509Certificate(p));
  } catch {
    return 'status.certificateChain: Invalid value: not PEM certificates';
  }
  if (certs.length === 0) return 'status.certificateChain: Invalid value: no certificate';
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) return `status.certificateChain: Invalid value: certificate ${i} is not issued by certificate ${i + 1}`;
  }
  const [nb, br, na] = [s.notBefore!, s.beginRefreshAt!, s.notAfter!].map((t) => (RFC3339.test(t) ? Date.parse(t) : NaN)) as [number, number, number];
  if ([nb, br, na].some(Number.isNaN)) return 'status: Invalid value: notBefore, beginRefreshAt and notAfter must be RFC 3339 times';
  const leaf = certs[0]!;
  if (leaf.validFromDate.getTime() !== nb || leaf.validToDate.getTime() !== na) return 'status: Invalid value: notBefore and notAfter must match the leaf certificate';
  const lifetime = (na - nb) / 1000;
  if (lifetime < MIN_S) return `status.notAfter: Invalid value: the certificate must be valid for at least ${MIN_S} seconds`;
  if (lifetime > maxExpirationSeconds) return `status.notAfter: Invalid value: the certificate's lifetime exceeds spec.maxExpirationSeconds (${maxExpirationSeconds})`;
  if (br < nb + REFRESH_MARGIN_MS || br > na - REFRESH_MARGIN_MS) return 'status.beginRefreshAt: Invalid value: must be at least 10 minutes after notBefore and before notAfter';
  return undefined;
}

/** A ClusterTrustBundle: PEM certificates only, and a name that starts with its signer's (":" for "/"). */
export function checkClusterTrustBundle(obj: KubeObject): string | undefined {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const signer = spec.signerName;
  if (signer !== undefined && (typeof signer !== 'string' || !obj.metadata.name.startsWith(`${signer.replace('/', ':')}:`))) {
    return `metadata.name: Invalid value: must begin with "${String(signer).replace('/', ':')}:" for signerName ${String(signer)}`;
  }
  const bundle = typeof spec.trustBundle === 'string' ? spec.trustBundle : '';
  const pems = bundle.match(/-----BEGIN [A-Z ]+-----[^-]+-----END [A-Z ]+-----/g) ?? [];
  if (pems.length === 0) return 'spec.trustBundle: Invalid value: at least one trust anchor must be provided';
  try {
    for (const p of pems) {
      if (!p.startsWith('-----BEGIN CERTIFICATE-----')) return 'spec.trustBundle: Invalid value: only CERTIFICATE blocks are allowed';
      new X509Certificate(p);
    }
  } catch {
    return 'spec.trustBundle: Invalid value: a block is not an X.509 certificate';
  }
  return undefined;
}

/**
 * Create-time checks of certificates.k8s.io: a PodCertificateRequest as a kubelet makes it; a ClusterTrustBundle
 * that names a signer also needs `attest` on that signer. 'forbidden' when RBAC says no.
 */
export function admitCertificatesWrite(resource: string, obj: KubeObject, authorize: Authorize): string | undefined {
  if (resource === 'podcertificaterequests') return admitPodCertificateRequest(obj);
  if (resource !== 'clustertrustbundles') return undefined;
  const bad = checkClusterTrustBundle(obj);
  const signer = (obj.spec as { signerName?: string } | undefined)?.signerName;
  if (bad || !signer) return bad;
  return authorize({ verb: 'attest', group: 'certificates.k8s.io', resource: 'signers', name: signer }) ? undefined : 'forbidden';
}

/** Why an update of a resource with a /status subresource is refused: a changed spec, no `sign` on the signer, a bad answer. */
export function refuseStatusResourceUpdate(target: Target, existing: KubeObject, obj: KubeObject, authorize: Authorize): { code: number; reason: string; message: string } | undefined {
  const invalid = (message: string) => ({ code: 422, reason: 'Invalid', message: `${target.resource} "${target.name}" is invalid: ${message}` });
  if (!target.subresource) return isDeepStrictEqual(obj.spec, existing.spec) ? undefined : invalid('spec: Invalid value: field is immutable');
  const signer = (existing.spec as { signerName?: string }).signerName;
  if (!authorize({ verb: 'sign', group: 'certificates.k8s.io', resource: 'signers', name: signer })) {
    return { code: 403, reason: 'Forbidden', message: `User "meshid" cannot sign for signer ${signer}` };
  }
  const bad = checkPodCertificateStatus(existing, obj.status as Record<string, unknown> | undefined);
  return bad ? invalid(bad) : undefined;
}
